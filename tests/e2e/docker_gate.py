"""A unix-socket forwarder in front of the Docker Engine socket that a test
controls: workletd's DOCKER_HOST points at it, so a test can take "Docker"
down, cut every live connection (a build stream, an events stream), and
bring it back, without touching the shared dockerd.

    gate = DockerGate().start()      # gate.host == "unix:///tmp/.../docker.sock"
    gate.down()                      # refuse new connections, cut live ones
    gate.up()                        # forward again
    gate.cut()                       # cut live connections, stay up
    gate.stop()

Down means the socket file is gone, as when dockerd is not running (a
connect() then fails with ENOENT, like a missing /var/run/docker.sock).
Python standard library only.
"""

import os
import selectors
import socket
import tempfile
import threading

DOCKER_SOCK = "/var/run/docker.sock"


class DockerGate:
    def __init__(self, target=DOCKER_SOCK):
        self.target = target
        self.dir = tempfile.mkdtemp(prefix="wl-docker-gate-")
        self.path = os.path.join(self.dir, "docker.sock")
        self.host = "unix://" + self.path
        self._lock = threading.Lock()
        self._conns = set()
        self._listener = None
        self._thread = None
        self.accepted = 0

    # -- control -------------------------------------------------------------
    def start(self):
        self.up()
        return self

    def up(self):
        with self._lock:
            if self._listener:
                return
            if os.path.exists(self.path):
                os.unlink(self.path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.path)
            s.listen(128)
            self._listener = s
            self._thread = threading.Thread(target=self._accept, args=(s,), daemon=True)
            self._thread.start()

    def down(self):
        with self._lock:
            s, self._listener = self._listener, None
        if s:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.cut()

    def cut(self):
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            for s in c:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self):
        self.down()
        try:
            os.rmdir(self.dir)
        except OSError:
            pass

    # -- forwarding ------------------------------------------------------------
    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    return
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._conns.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        client, upstream = pair
        sel = selectors.DefaultSelector()
        try:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            while True:
                for key, _ in sel.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        # Half-close: pass the EOF on, keep the other way.
                        try:
                            key.data.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        sel.unregister(key.fileobj)
                        if not sel.get_map():
                            raise OSError("closed")
                        continue
                    key.data.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            sel.close()
            with self._lock:
                self._conns.discard(pair)
            for s in pair:
                try:
                    s.close()
                except OSError:
                    pass
