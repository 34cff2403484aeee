from studio.cli import main

try:
    code = main()
except KeyboardInterrupt:  # pressed as the command returned: it is done
    code = 130
raise SystemExit(code)
