from streamhook.cli import main

raise SystemExit(main())
