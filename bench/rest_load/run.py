"""``python -m bench.rest_load.run``: the REST load benchmark (``bench.controller.rest_load``)."""

from bench.controller.rest_load import main

if __name__ == "__main__":
    raise SystemExit(main())
