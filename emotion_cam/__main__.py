from emotion_cam.cli import main

raise SystemExit(main())
