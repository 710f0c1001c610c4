#!/usr/bin/python3
"""Scripted SSH clients that misbehave on purpose, for pushgate-sshd's
protocol tests (tests/e2e/sshd_test.cc). Debian's python3-paramiko.

  sshd_client.py swap-key PORT USER OFFERED_KEY SIGNING_KEY COMMAND
      probes OFFERED_KEY (no signature), then authenticates by signing with
      SIGNING_KEY, runs COMMAND and prints "pk_ok=0|1", "exit=N" and what
      the server said on stderr. The session must be SIGNING_KEY's.
  sshd_client.py fake-success PORT USER COMMAND
      sends USERAUTH_SUCCESS itself instead of authenticating (libssh's
      CVE-2018-10933), then tries to run COMMAND. Prints "refused" if the
      server did not let it, "ACCEPTED" if it did.
  sshd_client.py proxy-relay PORT v1|v2 CLIENT_IP CLIENT_PORT [BIND_IP]
      an ssh ProxyCommand: connects (from BIND_IP if given), sends a PROXY
      header naming CLIENT_IP:CLIENT_PORT, then relays stdin and stdout, as
      a TCP load balancer would.
"""
import ipaddress
import os
import socket
import struct
import sys
import threading

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.common import MSG_SERVICE_ACCEPT, MSG_USERAUTH_INFO_REQUEST, cMSG_USERAUTH_REQUEST
from paramiko.message import Message

HOST = "127.0.0.1"


def connect(port):
    sock = socket.create_connection((HOST, port), timeout=20)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=20)
    return transport


def load_key(path):
    for kind in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            return kind.from_private_key_file(path)
        except paramiko.SSHException:
            continue
    raise SystemExit("cannot read key " + path)


def run(transport, command):
    channel = transport.open_session(timeout=20)
    channel.exec_command(command)
    channel.shutdown_write()
    stderr = channel.makefile_stderr("rb").read().decode(errors="replace")
    return channel.recv_exit_status(), stderr


def swap_key(port, user, offered_path, signing_path, command):
    offered = load_key(offered_path)
    signing = load_key(signing_path)
    pk_ok = []
    table = AuthHandler._client_handler_table  # what paramiko dispatches on
    original_accept = table[MSG_SERVICE_ACCEPT]

    def probe_then_sign(self, m):
        # The probe: "would you take this key?", without a signature.
        probe = Message()
        probe.add_byte(cMSG_USERAUTH_REQUEST)
        probe.add_string(self.username)
        probe.add_string("ssh-connection")
        probe.add_string("publickey")
        probe.add_boolean(False)
        probe.add_string(offered.get_name())
        probe.add_string(offered.asbytes())
        self.transport._send_message(probe)
        return original_accept(self, m)

    def on_pk_ok(self, m):
        # USERAUTH_PK_OK shares its number with INFO_REQUEST.
        pk_ok.append(True)

    table[MSG_SERVICE_ACCEPT] = probe_then_sign
    table[MSG_USERAUTH_INFO_REQUEST] = on_pk_ok
    transport = connect(port)
    transport.auth_publickey(user, signing)
    status, stderr = run(transport, command)
    print("pk_ok=%d" % (1 if pk_ok else 0))
    print("exit=%d" % status)
    print(stderr)
    transport.close()


def fake_success(port, user, command):
    transport = connect(port)
    success = Message()
    success.add_byte(bytes([52]))  # SSH_MSG_USERAUTH_SUCCESS
    transport._send_message(success)
    try:
        status, stderr = run(transport, command)
    except Exception as error:  # the server closed or refused: what we want
        print("refused (%s)" % type(error).__name__)
        return
    print("ACCEPTED exit=%d %s" % (status, stderr))


def proxy_relay(port, version, client_ip, client_port, bind_ip=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if bind_ip:
        sock.bind((bind_ip, 0))
    sock.connect((HOST, port))
    if version == "v1":
        header = "PROXY TCP4 %s %s %d %d\r\n" % (client_ip, HOST, client_port, port)
        sock.sendall(header.encode())
    else:
        addresses = (ipaddress.IPv4Address(client_ip).packed + ipaddress.IPv4Address(HOST).packed +
                     struct.pack("!HH", client_port, port))
        sock.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", len(addresses)) + addresses)

    def upstream():
        while True:
            data = os.read(0, 65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)
                return
            sock.sendall(data)

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            return
        os.write(1, data)


def main(argv):
    if len(argv) == 7 and argv[1] == "swap-key":
        swap_key(int(argv[2]), argv[3], argv[4], argv[5], argv[6])
    elif len(argv) in (6, 7) and argv[1] == "proxy-relay":
        proxy_relay(int(argv[2]), argv[3], argv[4], int(argv[5]), argv[6] if len(argv) == 7 else None)
    elif len(argv) == 5 and argv[1] == "fake-success":
        fake_success(int(argv[2]), argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
