"""The classroom API, one router per area: operations, accounts, labs, session, class, terminal."""
