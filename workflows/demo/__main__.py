from workflows.demo.plan import main

raise SystemExit(main())
