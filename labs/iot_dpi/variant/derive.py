"""Lab 6: the healthy devices and scan targets for the infected camera."""


def derive(values: dict) -> dict:
    infected = values["infected"]
    cams = [c for c in ("cam1", "cam2", "cam3") if c != infected]
    others = [*cams, "m1", "m2", "m3"]
    return {
        "others": ", ".join(others),
        "targets": ", ".join([*others, "hes", "vms"]),
        "first_cam": cams[0],
        "last_cam": cams[-1],
        "controller_url": "{{controller_url}}",  # the runtime's own placeholder, kept as written
    }
