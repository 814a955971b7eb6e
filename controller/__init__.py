"""sdnlab's OpenFlow 1.3 controller: the Ryu API on os-ken, a ``ryu-manager`` runner, built-in apps.

Modules, by role:

- running apps: ``runner`` (``ryu-manager`` / ``python -m sdnlab.controller.runner``), ``options``
  (Ryu's flags), ``appmanager`` (loading by module or file, canonical names), ``alias`` (the
  ``ryu`` import alias), ``hardening`` (every os-ken workaround: strict parsing, timeouts,
  teardown, handler errors, dpid ownership), ``process`` (a runner subprocess for tests and tools);
- REST serving: ``rest_server`` (cheroot with limits behind ``ryu.app.wsgi``), ``rest_client``
  (the per-lab token and the headers clients send), ``rest_input``/``ofctl_values`` (request
  checks), ``quarantine`` (quarantine requests and entries);
- the Ryu modules os-ken dropped live in ``controller/ryu/app`` (installed as ``ryu.app``);
- the built-in app: ``apps.builtin`` (the os-ken shim), ``fabric`` (routing decisions),
  ``network`` (what is known about switches, links, hosts), ``routing`` (shortest paths and
  backups), ``sfc`` (service chains), ``l2`` (learning switch), ``discovery`` (LLDP, ARP frames),
  ``config`` (its YAML/JSON configuration), ``builtin_rest`` (its ``/sdnlab`` REST endpoints);
- OpenFlow building blocks: ``ofmsg`` (pure message builders), ``pipeline`` (table layout and
  priorities), ``wire`` (hot-path encoding), ``packets`` (header parsing);
- load and failure tooling: ``fakeswitch`` (asyncio fake switch), ``testnet`` (Mininet helpers).

See docs/controller.md.
"""
