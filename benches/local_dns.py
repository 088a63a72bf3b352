"""What the Python benchmarks (benches/agh, benches/external_dns) stand on: a free port,
and an upstream that answers every A query with 127.1.0.1 (TTL 300) from a thread."""

import socket
import threading


def free_port(ip="127.0.0.1"):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def upstream():
    """A UDP responder answering every A query with 127.1.0.1 (TTL 300); its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            q, addr = sock.recvfrom(512)
            end = 12
            while end < len(q) and q[end]:
                end += q[end] + 1
            question = q[12:end + 5]
            is_a = q[end + 1:end + 3] == b"\x00\x01"
            header = q[:2] + b"\x81\x80\x00\x01" + (b"\x00\x01" if is_a else b"\x00\x00") + b"\x00" * 4
            answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x7f\x01\x00\x01" if is_a else b""
            sock.sendto(header + question + answer, addr)

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]
