from piifactory.synth.command import main

raise SystemExit(main())
