from homelab_ctl.cli import main

main()
