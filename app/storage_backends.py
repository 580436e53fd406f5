"""The two places Halyard keeps files: a local folder, or a bucket of an S3-compatible object store.

Both are used only through ``app.storage`` (the one interface the rest of the server sees). A key is
kept as ``<key[:2]>/<key>`` under the folder or the bucket's prefix. Every method streams: nothing
reads a whole file into memory. ``scratch_root`` is a local folder for work files (a job's work
directory, a local copy for DuckDB); for a folder store it is the folder itself, so finished work
files move into place with a rename.
"""

import contextlib
import io
import os
import shutil
import tempfile
from urllib.parse import urlsplit

CHUNK = 1024 * 1024


class FileStore:
    """Files in a local (or shared, NFS) folder."""

    kind = "file"

    def __init__(self, root):
        self.root = root
        self.scratch_root = root

    def location(self, key):
        return os.path.join(self.root, key[:2], key)

    def url(self, key):
        return "file://" + os.path.abspath(self.location(key))

    def adopt(self, local_path, key):
        """Move the finished local file ``local_path`` into storage as ``key``."""
        target = self.location(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.replace(local_path, target)
        except OSError:  # another filesystem: copy, then remove the source
            shutil.move(local_path, target)

    def open(self, key):
        return open(self.location(key), "rb")

    def delete(self, key):
        try:
            os.unlink(self.location(key))
        except FileNotFoundError:
            pass

    def exists(self, key):
        return os.path.exists(self.location(key))

    def size(self, key):
        return os.path.getsize(self.location(key))

    @contextlib.contextmanager
    def local_copy(self, key):
        path = self.location(key)
        if not os.path.exists(path):
            raise FileNotFoundError(key)
        yield path  # the stored file itself: readers promise not to write to it

    def keys(self):
        """{key: modification time (epoch seconds)} of every stored file."""
        found = {}
        if not os.path.isdir(self.root):
            return found
        for prefix in os.listdir(self.root):
            folder = os.path.join(self.root, prefix)
            if len(prefix) != 2 or not os.path.isdir(folder):
                continue
            for key in os.listdir(folder):
                try:
                    found[key] = os.lstat(os.path.join(folder, key)).st_mtime
                except FileNotFoundError:
                    continue
        return found


class S3Store:
    """Objects in ``s3://bucket/prefix`` of AWS S3 or any S3-compatible store (MinIO, Ceph RGW...)."""

    kind = "s3"

    def __init__(
        self, url, *, scratch_root, endpoint_url, region, access_key, secret_key, addressing, multipart_bytes
    ):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        parts = urlsplit(url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        self.scratch_root = scratch_root
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key or None,  # None: the standard AWS chain (env, profile, role)
            aws_secret_access_key=secret_key or None,
            config=Config(
                s3={"addressing_style": addressing or "auto"},
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_bytes, multipart_chunksize=multipart_bytes, max_concurrency=4
        )

    def location(self, key):
        return f"{self.prefix}{key[:2]}/{key}"

    def url(self, key):
        return f"s3://{self.bucket}/{self.location(key)}"

    def adopt(self, local_path, key):
        with open(local_path, "rb") as fh:  # multipart past the threshold, part by part
            self.client.upload_fileobj(fh, self.bucket, self.location(key), Config=self.transfer)
        os.unlink(local_path)

    def open(self, key):
        return io.BufferedReader(_ObjectReader(self, self.location(key), self.size(key)), CHUNK)

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=self.location(key))  # idempotent in S3

    def _head(self, key):
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.location(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from None
            raise

    def exists(self, key):
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key):
        return self._head(key)["ContentLength"]

    @contextlib.contextmanager
    def local_copy(self, key):
        os.makedirs(self.scratch_root, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=self.scratch_root, prefix=".copy-")
        try:
            with os.fdopen(fd, "wb") as out, self.open(key) as src:
                shutil.copyfileobj(src, out, CHUNK)
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def keys(self):
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for entry in page.get("Contents", []):
                folder, _, key = entry["Key"][len(self.prefix) :].rpartition("/")
                if len(folder) == 2 and key[:2] == folder:
                    found[key] = entry["LastModified"].timestamp()
        return found

    def presigned_url(self, key, seconds, content_type, disposition):
        params = {"Bucket": self.bucket, "Key": self.location(key), "ResponseContentType": content_type}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)


class _ObjectReader(io.RawIOBase):
    """A seekable, streaming reader of one object: one ranged GET from the current position, reopened
    after a seek (so Range requests and readers that seek, like Pillow, read only what they need)."""

    def __init__(self, store, name, size):
        self.store, self.name, self.length = store, name, size
        self.position, self.body = 0, None

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        target = max(0, base + offset)
        if target != self.position:
            self._drop()
            self.position = target
        return self.position

    def readinto(self, buffer):
        if self.position >= self.length or not len(buffer):
            return 0
        if self.body is None:
            answer = self.store.client.get_object(
                Bucket=self.store.bucket, Key=self.name, Range=f"bytes={self.position}-"
            )
            self.body = answer["Body"]
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _drop(self):
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self):
        self._drop()
        super().close()


def build(config, instance_path):
    """The store named by HALYARD_STORAGE_URL (or, unset, the folder HALYARD_STORAGE_ROOT)."""
    url = config.get("HALYARD_STORAGE_URL") or ""
    if not url:
        return FileStore(config["HALYARD_STORAGE_ROOT"])
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileStore(urlsplit(url).path)
    if scheme == "s3":
        if not urlsplit(url).netloc:
            raise ValueError("HALYARD_STORAGE_URL: s3://bucket[/prefix] needs a bucket")
        return S3Store(
            url,
            scratch_root=os.path.join(instance_path, "scratch"),
            endpoint_url=config["HALYARD_S3_ENDPOINT_URL"],
            region=config["HALYARD_S3_REGION"],
            access_key=config["HALYARD_S3_ACCESS_KEY_ID"],
            secret_key=config["HALYARD_S3_SECRET_ACCESS_KEY"],
            addressing=config["HALYARD_S3_ADDRESSING_STYLE"],
            multipart_bytes=config["HALYARD_S3_MULTIPART_BYTES"],
        )
    raise ValueError(f"HALYARD_STORAGE_URL: unsupported scheme {scheme!r} (file:// or s3://)")


SETTINGS_USED = (
    "HALYARD_STORAGE_URL",
    "HALYARD_STORAGE_ROOT",
    "HALYARD_S3_ENDPOINT_URL",
    "HALYARD_S3_REGION",
    "HALYARD_S3_ACCESS_KEY_ID",
    "HALYARD_S3_SECRET_ACCESS_KEY",
    "HALYARD_S3_ADDRESSING_STYLE",
    "HALYARD_S3_MULTIPART_BYTES",
)
