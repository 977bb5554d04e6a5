from kgtoolkit.cli import main

main()
