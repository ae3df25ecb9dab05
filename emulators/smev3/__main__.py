from emulators.smev3.app import main

main()
