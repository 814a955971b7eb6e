"""Line-oriented text protocols: HTTP and its relatives (RTSP, SIP, SSDP), FTP, SSH and Telnet.

HTTP, RTSP, SIP and SSDP share the start line ``METHOD SP TARGET SP VERSION`` (or a status line
``VERSION SP CODE``); the version token and the transport decide which one it is, never the port.
"""

from __future__ import annotations

import re
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase, header_lines, printable, text

_METHOD = re.compile(rb"[A-Z][A-Z_-]{2,19}\Z")
_VERSION = re.compile(rb"(HTTP|RTSP|SIP)/(\d)\.(\d)\Z")
_STATUS = re.compile(rb"(HTTP|RTSP|SIP)/\d\.\d [1-6]\d\d( |\r|\Z)")


def _start_line(payload: bytes) -> tuple[str, bytes, bytes, bytes] | None:
    """('request', method, target, family) or ('status', family, code, b'') from the first line."""
    line, crlf, _rest = payload.partition(b"\r\n")
    if not crlf:
        line, _lf, _rest = payload.partition(b"\n")
    if len(line) > 4096:
        return None
    status = _STATUS.match(line)
    if status:
        return "status", status.group(1), line[len(status.group(1)) + 5 : len(status.group(1)) + 8], b""
    parts = line.split(b" ")
    if len(parts) != 3 or not _METHOD.match(parts[0]) or not parts[1]:
        return None
    version = _VERSION.match(parts[2])
    if not version or not printable(parts[1]):
        return None
    return "request", parts[0], parts[1], version.group(1)


def _partial_method(payload: bytes) -> bool:
    """The payload could be the beginning of a request line cut before its end."""
    head = payload.split(b" ", 1)[0]
    return len(payload) < 16 and b"\n" not in payload and bool(re.fullmatch(rb"[A-Z][A-Z_-]*", head))


class StartLine(DissectorBase):
    """HTTP over TCP, SSDP (HTTP over UDP), RTSP and SIP, from the start line's version token."""

    name = m.HTTP
    ports = frozenset({80, 8080, 554, 8554, 5060, 1900})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        parsed = _start_line(payload)
        if parsed is None:
            if ctx.index == 0 and _partial_method(payload):
                return More()
            return None
        kind, first, second, family = parsed
        headers = header_lines(payload)
        if kind == "status":
            app = self._app(first, ctx.transport, headers)
            return Match(app, {"status": int(second)} if second.isdigit() else {}, done=False)
        app = self._app(family, ctx.transport, headers)
        metadata: dict[str, Any] = {"method": first.decode(), "url": text(second, 512)}
        if app == m.SIP:
            for field in ("from", "to", "user-agent"):
                if field in headers:
                    metadata[field.replace("-", "_")] = headers[field]
        else:
            if "host" in headers:
                metadata["host"] = headers["host"]
            if "user-agent" in headers:
                metadata["user_agent"] = headers["user-agent"]
            if app == m.SSDP and ("st" in headers or "nt" in headers):
                metadata["st"] = headers.get("st") or headers.get("nt")
        return Match(app, metadata, done=app not in (m.HTTP, m.RTSP))

    @staticmethod
    def _app(family: bytes, transport: int, headers: dict[str, str]) -> str:
        if family == b"RTSP":
            return m.RTSP
        if family == b"SIP":
            return m.SIP
        if transport == m.UDP:
            return m.SSDP
        return m.HTTP

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add the response status and server to a request (or the request to a response)."""
        parsed = _start_line(payload)
        if parsed is None:
            return metadata, False
        headers = header_lines(payload)
        if parsed[0] == "status" and "status" not in metadata:
            metadata = {**metadata, "status": int(parsed[2]) if parsed[2].isdigit() else parsed[2].decode()}
            if "server" in headers:
                metadata["server"] = headers["server"]
            if "content-type" in headers:
                metadata["content_type"] = headers["content-type"]
        elif parsed[0] == "request" and "method" not in metadata:
            metadata = {**metadata, "method": parsed[1].decode(), "url": text(parsed[2], 512)}
            for field, key in (("host", "host"), ("user-agent", "user_agent")):
                if field in headers:
                    metadata[key] = headers[field]
        return metadata, "status" in metadata and "method" in metadata


_FTP_COMMANDS = frozenset(
    b"USER PASS AUTH FEAT SYST OPTS PWD CWD TYPE PASV EPSV PORT EPRT LIST NLST RETR STOR "
    b"QUIT HOST CLNT ACCT MODE STRU NOOP SIZE MDTM REST".split()
)
_PASV = re.compile(rb"227 [^(\r\n]*\(?(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV = re.compile(rb"229 [^(\r\n]*\((.)\1\1(\d{1,5})\1\)")
_PORT = re.compile(rb"PORT (\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPRT = re.compile(rb"EPRT (.)([12])\1([0-9a-fA-F.:]+)\1(\d{1,5})\1")


class Ftp(DissectorBase):
    """FTP control: a 220 greeting answered by FTP commands; announces its data connections.

    The data connections the control channel negotiates (PASV/EPSV replies, PORT/EPRT commands)
    are reported in ``metadata['_expect']`` as ``(side, ip_text_or_None, port)`` so the engine can
    label them FTP_DATA when they open (``side`` is whose address ``None`` stands for).
    """

    name = m.FTP_CONTROL
    transports = frozenset({m.TCP})
    ports = frozenset({21})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if not ctx.from_client:
            if payload[:4] in (b"220 ", b"220-"):
                line = payload.split(b"\r\n", 1)[0].upper()
                if b"SMTP" in line or b"POP" in line or b"IMAP" in line:
                    return None
                if b"FTP" in line:
                    return Match(
                        m.FTP_CONTROL, {"banner": text(payload.split(b"\r\n", 1)[0][4:])}, done=False
                    )
                return More(scratch="greeted")
            if ctx.scratch == "greeted" and payload[:3].isdigit():
                return More(scratch="greeted")
            return None
        command = payload.split(b"\r\n", 1)[0].split(b" ", 1)[0].upper()
        if command in _FTP_COMMANDS and payload.endswith(b"\r\n"):
            if command == b"USER" or ctx.scratch == "greeted":
                metadata = self._client(payload, {})
                return Match(m.FTP_CONTROL, metadata, done=False)
            return More(scratch=ctx.scratch)
        return None

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Collect the user name and the negotiated data connections."""
        if ctx.from_client:
            return self._client(payload, metadata), False
        found = _PASV.search(payload)
        if found:
            numbers = [int(x) for x in found.groups()]
            ip = ".".join(str(x) for x in numbers[:4])
            return self._expect(metadata, "server", ip, numbers[4] * 256 + numbers[5]), False
        found = _EPSV.search(payload)
        if found:
            return self._expect(metadata, "server", None, int(found.group(2))), False
        return metadata, False

    def _client(self, payload: bytes, metadata: dict[str, Any]) -> dict[str, Any]:
        line = payload.split(b"\r\n", 1)[0]
        if line[:5].upper() == b"USER ":
            metadata = {**metadata, "username": text(line[5:], 64)}
        found = _PORT.match(line)
        if found:
            numbers = [int(x) for x in found.groups()]
            return self._expect(
                metadata, "client", ".".join(str(x) for x in numbers[:4]), numbers[4] * 256 + numbers[5]
            )
        found = _EPRT.match(line)
        if found:
            return self._expect(metadata, "client", found.group(3).decode(), int(found.group(4)))
        return metadata

    @staticmethod
    def _expect(metadata: dict[str, Any], side: str, ip: str | None, port: int) -> dict[str, Any]:
        return {**metadata, "_expect": [*metadata.get("_expect", []), (side, ip, port)]}


_SSH = re.compile(rb"SSH-(1\.99|2\.0|1\.5)-[!-~]+")


class Ssh(DissectorBase):
    """SSH: the identification string ``SSH-2.0-software`` either side sends first."""

    name = m.SSH
    transports = frozenset({m.TCP})
    ports = frozenset({22})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if not payload.startswith(b"SSH-"):
            return None
        if not _SSH.match(payload):
            return More() if len(payload) < 8 else None
        key = "client" if ctx.from_client else "server"
        return Match(m.SSH, {key: text(payload.split(b"\r\n", 1)[0].split(b"\n", 1)[0], 128)}, done=False)

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add the other side's identification string."""
        key = "client" if ctx.from_client else "server"
        if key not in metadata and _SSH.match(payload):
            metadata = {**metadata, key: text(payload.split(b"\r\n", 1)[0].split(b"\n", 1)[0], 128)}
        return metadata, "client" in metadata and "server" in metadata


_TELNET_OPTION_COMMANDS = frozenset(range(0xFA, 0xFF))  # SB, WILL, WONT, DO, DONT
_LOGIN_PROMPT = re.compile(rb"(login|username|user name)\s*:\s*\Z", re.IGNORECASE)


class Telnet(DissectorBase):
    """Telnet: option negotiation (IAC WILL/WONT/DO/DONT/SB) opening the stream.

    Enrichment follows the login prompt and collects the characters the client types as the
    user name (sent one per packet by most clients), as nDPI reports it.
    """

    name = m.TELNET
    transports = frozenset({m.TCP})
    ports = frozenset({23, 2323})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 3 or payload[0] != 0xFF or payload[1] not in _TELNET_OPTION_COMMANDS:
            return None
        pos = 0
        while pos < len(payload) and payload[pos] == 0xFF:
            command = payload[pos + 1] if pos + 1 < len(payload) else None
            if command is None:
                break
            if command in (0xFB, 0xFC, 0xFD, 0xFE):
                if pos + 2 >= len(payload) and pos > 0:
                    break
                pos += 3
            elif command == 0xFA:
                end = payload.find(b"\xff\xf0", pos + 2)
                if end < 0:
                    break
                pos = end + 2
            elif command in (0xF1, 0xF9, 0xF6, 0xF3, 0xF4):  # NOP, GA, AYT, BRK, IP
                pos += 2
            else:
                return None
        return Match(m.TELNET, {}, done=False, scratch={"state": "wait"})

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Track the login prompt and the typed user name."""
        state = metadata.get("_login", "wait")
        if not ctx.from_client:
            if state == "wait" and _LOGIN_PROMPT.search(
                payload.replace(b"\r", b"").replace(b"\n", b"")[-32:]
            ):
                return {**metadata, "_login": "typing", "_typed": ""}, False
            return metadata, False
        if state != "typing" or payload[:1] == b"\xff":
            return metadata, False
        typed = metadata.get("_typed", "")
        for byte in payload:
            if byte in (0x0D, 0x0A, 0x00):
                done = {k: v for k, v in metadata.items() if not k.startswith("_")}
                if typed:
                    done["username"] = typed
                return done, True
            if 32 <= byte < 127 and len(typed) < 64:
                typed += chr(byte)
        return {**metadata, "_typed": typed}, False
