from velro_graphql.cli import main

raise SystemExit(main())
