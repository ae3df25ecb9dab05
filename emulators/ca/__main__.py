from emulators.ca.emulator import main

main()
