from aicensus.cli.app import main

main()
