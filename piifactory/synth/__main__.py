from piifactory.synth.cli import main

raise SystemExit(main())
