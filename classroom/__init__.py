"""The classroom server: a multi-trainee web app over the labs and grader libraries.

``db`` (models, migrations), ``security`` and ``accounts`` (users, passwords, logins),
``sandbox`` (the backend interface and the local backend that drives the privileged
``agent`` over a Unix socket), ``app`` (the FastAPI application and its JSON API), ``cli``
(``sdnlab serve``, ``sdnlab users``) and ``static/`` (the browser UI).
"""
