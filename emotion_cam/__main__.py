from emotion_cam.commands.cli import main

raise SystemExit(main())
