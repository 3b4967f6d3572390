#!/usr/bin/python3
"""spice_vmc.py HOST PORT CHANNEL_TYPE [--send HEX]... [--wait HEX] [--timeout SECS]
[--linger SECS]: a raw SPICE client (Python's standard library only: spice-client-glib
links a usbredir channel only for a real USB device) that opens a session (main channel,
no ticket: the host runs with disable-ticketing), lists the session's channels, links
channel CHANNEL_TYPE id 0 (9: SPICE_CHANNEL_USBREDIR, 8: SPICE_CHANNEL_SMARTCARD, ...),
and exchanges SPICEVMC_DATA (101 both ways) on it. It prints one JSON line per thing it
learns:

  {"channels": [[TYPE, ID], ...]}   MAIN_CHANNELS_LIST, sorted
  {"linked": TYPE}                  the channel's link succeeded
  {"sent": HEX}                     a --send was written (once the --wait before it arrived)
  {"received": HEX}                 everything the channel sent, at the end
  {"error": TEXT}                   what went wrong (link refused, timeout, closed)

--send and --wait take hex bytes; each --send waits until the bytes received hold one more
occurrence of the --wait before it than when the previous --send was written. After the
last step the client keeps reading for --linger seconds (default 1). Exit 0 when every
step happened, 1 otherwise.

The client answers SET_ACK (ACK_SYNC, then an ACK every window) and PING (PONG) as
spice-gtk does, announces the mini header, and sends the empty password encrypted with the server's key
(RSA-OAEP, as spice-gtk: the reference decrypts it even with ticketing off)."""
import hashlib
import json
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x51444552  # "REDQ"
COMMON_CAP_AUTH_SELECTION, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER = 0, 1, 3
CHANNEL_MAIN = 1
MSG_SET_ACK, MSG_PING = 3, 4
MSGC_ACK_SYNC, MSGC_ACK, MSGC_PONG = 1, 2, 3
MSG_MAIN_INIT, MSG_MAIN_CHANNELS_LIST = 103, 104
MSGC_MAIN_ATTACH_CHANNELS = 104
VMC_DATA = 101  # SPICE_MSG_SPICEVMC_DATA, SPICE_MSGC_SPICEVMC_DATA (and SMARTCARD_DATA)


def der_rsa_public_key(der):
    """(n, e) from a DER SubjectPublicKeyInfo (the link reply's pub_key)."""
    def tlv(buf, pos):
        tag, length = buf[pos], buf[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7f
            length = int.from_bytes(buf[pos:pos + count], "big")
            pos += count
        return tag, buf[pos:pos + length], pos + length
    _, spki, _ = tlv(der, 0)
    _, _algorithm, pos = tlv(spki, 0)
    _, bits, _ = tlv(spki, pos)
    _, rsa, _ = tlv(bits[1:], 0)  # skip the unused-bits byte
    _, n, pos = tlv(rsa, 0)
    _, e, _ = tlv(rsa, pos)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def rsa_oaep_encrypt(der, message):
    """RSAES-OAEP with SHA-1 and MGF1-SHA-1 (RFC 8017), as spice-gtk encrypts its ticket; the
    server decrypts it even with ticketing off."""
    n, e = der_rsa_public_key(der)
    k, h = (n.bit_length() + 7) // 8, hashlib.sha1

    def mgf1(seed, length):
        out = b""
        for counter in range((length + 19) // 20):
            out += h(seed + counter.to_bytes(4, "big")).digest()
        return out[:length]
    db = h(b"").digest() + bytes(k - len(message) - 2 * 20 - 2) + b"\x01" + message
    seed = os.urandom(20)
    masked_db = bytes(a ^ b for a, b in zip(db, mgf1(seed, k - 20 - 1)))
    masked_seed = bytes(a ^ b for a, b in zip(seed, mgf1(masked_db, 20)))
    em = b"\x00" + masked_seed + masked_db
    return pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")


def emit(**kv):
    print(json.dumps(kv, sort_keys=True), flush=True)


class Channel:
    def __init__(self, host, port, channel_type, connection_id, deadline):
        self.deadline = deadline
        self.sock = socket.create_connection((host, port), timeout=5)
        self.inbuf = b""
        self.ack_window, self.unacked = 0, 0
        common = (1 << COMMON_CAP_AUTH_SELECTION) | (1 << COMMON_CAP_AUTH_SPICE) | \
                 (1 << COMMON_CAP_MINI_HEADER)
        mess = struct.pack("<IBBIII", connection_id, channel_type, 0, 1, 0, 18) + \
            struct.pack("<I", common)
        self.sock.sendall(struct.pack("<IIII", MAGIC, 2, 2, len(mess)) + mess)
        magic, _major, _minor, size = struct.unpack("<IIII", self.read_exact(16))
        reply = self.read_exact(size)
        error = struct.unpack_from("<I", reply, 0)[0]
        if magic != MAGIC or error != 0:
            raise RuntimeError("link of channel %d refused (error %d)" % (channel_type, error))
        pub_key = reply[4:4 + 162]  # SPICE_TICKET_PUBKEY_BYTES
        ticket = rsa_oaep_encrypt(pub_key, b"\x00")  # the empty password, NUL-terminated
        self.sock.sendall(struct.pack("<I", COMMON_CAP_AUTH_SPICE) + ticket)
        result = struct.unpack("<I", self.read_exact(4))[0]
        if result != 0:
            raise RuntimeError("channel %d: ticket refused (%d)" % (channel_type, result))

    def read_exact(self, n):
        out = b""
        while len(out) < n:
            self.sock.settimeout(max(0.1, self.deadline - time.time()))
            got = self.sock.recv(n - len(out))
            if not got:
                raise RuntimeError("connection closed")
            out += got
        return out

    def send(self, msg_type, body=b""):
        self.sock.sendall(struct.pack("<HI", msg_type, len(body)) + body)

    def poll(self, timeout):
        """Reads what arrived within `timeout`; returns the messages the caller wants (those
        the base protocol does not take)."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if r:
            got = self.sock.recv(65536)
            if not got:
                raise RuntimeError("connection closed")
            self.inbuf += got
        out = []
        while len(self.inbuf) >= 6:
            msg_type, size = struct.unpack_from("<HI", self.inbuf, 0)
            if len(self.inbuf) < 6 + size:
                break
            body = self.inbuf[6:6 + size]
            self.inbuf = self.inbuf[6 + size:]
            if self.ack_window:
                self.unacked += 1
                if self.unacked >= self.ack_window:
                    self.send(MSGC_ACK)
                    self.unacked = 0
            if msg_type == MSG_SET_ACK:
                generation, window = struct.unpack_from("<II", body, 0)
                self.ack_window, self.unacked = window, 0
                self.send(MSGC_ACK_SYNC, struct.pack("<I", generation))
            elif msg_type == MSG_PING:
                self.send(MSGC_PONG, body[:12])
            else:
                out.append((msg_type, body))
        return out

    def wait_for(self, msg_type):
        while time.time() < self.deadline:
            for t, body in self.poll(self.deadline - time.time()):
                if t == msg_type:
                    return body
        raise RuntimeError("timed out waiting for message %d" % msg_type)


def main():
    host, port, channel_type = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    steps, wait, timeout, linger = [], None, 20.0, 1.0
    args = sys.argv[4:]
    for i in range(0, len(args), 2):
        if args[i] == "--send":
            steps.append((wait, bytes.fromhex(args[i + 1])))
            wait = None
        elif args[i] == "--wait":
            wait = bytes.fromhex(args[i + 1])
        elif args[i] == "--timeout":
            timeout = float(args[i + 1])
        elif args[i] == "--linger":
            linger = float(args[i + 1])
        else:
            raise SystemExit("unknown argument %s" % args[i])
    final_wait = wait
    deadline = time.time() + timeout
    got = bytearray()
    ok = False
    try:
        main_ch = Channel(host, port, CHANNEL_MAIN, 0, deadline)
        init = main_ch.wait_for(MSG_MAIN_INIT)
        session = struct.unpack_from("<I", init, 0)[0]
        main_ch.send(MSGC_MAIN_ATTACH_CHANNELS)
        body = main_ch.wait_for(MSG_MAIN_CHANNELS_LIST)
        n = struct.unpack_from("<I", body, 0)[0]
        emit(channels=sorted([list(body[4 + 2 * i:6 + 2 * i]) for i in range(n)]))
        vmc = Channel(host, port, channel_type, session, deadline)
        emit(linked=channel_type)
        mark = b""
        sent = 0

        def arrived(text, before):
            return text is None or bytes(got).count(text) > before.count(text)

        while time.time() < deadline:
            while sent < len(steps) and arrived(steps[sent][0], mark):
                vmc.send(VMC_DATA, steps[sent][1])
                emit(sent=steps[sent][1].hex())
                mark = bytes(got)
                sent += 1
            if sent == len(steps) and arrived(final_wait, mark):
                ok = True
                break
            main_ch.poll(0)
            for t, b in vmc.poll(0.05):
                if t == VMC_DATA:
                    got += b
        end = time.time() + linger
        while ok and time.time() < end:
            main_ch.poll(0)
            for t, b in vmc.poll(0.05):
                if t == VMC_DATA:
                    got += b
        if not ok:
            emit(error="timed out after %d of %d steps" % (sent, len(steps)))
    except (OSError, RuntimeError, struct.error) as e:
        emit(error=str(e))
        ok = False
    emit(received=bytes(got).hex())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
