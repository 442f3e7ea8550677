from sla_analysis.cli import main

raise SystemExit(main())
