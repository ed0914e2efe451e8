"""S3 sink: one create-once object per page and partition; a re-fetched page writes nothing twice.

Each batch is split by source and partition (``partition``, a ``strftime`` pattern applied to
the record's ``time_field``, default ``dt=%Y-%m-%d``); each part becomes one object

    {prefix}{source}/{partition}/{digest}.jsonl.gz      (or .parquet)

whose name is a digest of its record keys, written with ``If-None-Match: *``. A page fetched again
after a crash lands on the same names, the store answers 412 Precondition Failed, and its records
count as duplicates — no lookup. Objects above ``multipart_threshold`` bytes go up as a multipart
upload completed with the same condition.

A page re-fetched after a crash can also come back *different* (records added since): the names
differ then. So before its objects, a store writes the page journal
``{prefix}_journal/{source}.json`` — the names it is about to create and their keys. The first
store of a source after a (re)start reads it, asks which of those objects exist, and skips the
records they hold; later stores skip the keys of the page stored just before (the only page the
delivery loop can send again). One writer per source and prefix, as with every file sink.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import orjson

from collectorkit._errors import ConfigError, SinkError
from collectorkit._instants import instant_or_none
from collectorkit._records import Envelope, lookup_path
from collectorkit._redact import register_secret
from collectorkit.sinks._base import BaseSink, json_default, json_lines, match_criteria
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["S3Sink"]

_log = logging.getLogger(__name__)
_FORMATS = {"jsonl": ".jsonl.gz", "parquet": ".parquet"}
_MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last
_UNDATED = "undated"


def _parquet(batch: list[Envelope]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "key": [e.key for e in batch],
            "source": [e.source for e in batch],
            "data": [orjson.dumps(e.data, default=json_default).decode() for e in batch],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def _read_parquet(body: bytes) -> list[Envelope]:
    import pyarrow.parquet as pq

    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    return [Envelope(r["source"], r["key"], orjson.loads(r["data"])) for r in rows]


def _read_lines(body: bytes) -> list[Envelope]:
    rows = [orjson.loads(line) for line in gzip.decompress(body).splitlines() if line]
    return [Envelope(r["source"], r["key"], r["data"]) for r in rows]


def _digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:32]


class S3Sink(BaseSink):
    """Records as gzip JSONL (or Parquet) objects in ``bucket`` of any S3-compatible store.

    Needs ``pip install 'collectorkit[s3]'`` (``[parquet]`` too for ``format: parquet``, whose
    columns are ``key``, ``source`` and ``data`` — the record as JSON text). ``endpoint_url``
    points at a store other than AWS (MinIO, Ceph, moto …). Credentials: ``access_key_id`` /
    ``secret_access_key`` / ``session_token``, else the usual ``AWS_*`` variables, profile or
    instance role. ``time_field`` (a dotted path) dates each record for ``partition``; records
    without a readable timestamp go to ``undated``. ``multipart_threshold`` and ``part_size``
    are bytes. A call refused with 5xx, throttled or cut off is tried up to ``max_attempts``
    times (botocore's standard retry mode) before the store fails.
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        format: str = "jsonl",
        time_field: str | None = None,
        partition: str = "dt=%Y-%m-%d",
        multipart_threshold: int = 16 * 1024 * 1024,
        part_size: int = 8 * 1024 * 1024,
        timeout: float = 30.0,
        max_attempts: int = 5,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not bucket or "/" in bucket:
            raise ConfigError(f"expected a bucket name, got {bucket!r}", path="bucket")
        if format not in _FORMATS:
            raise ConfigError(f"expected one of jsonl, parquet; got {format!r}", path="format")
        if format == "parquet":
            try:
                import pyarrow.parquet  # noqa: F401
            except ImportError:
                raise ConfigError(
                    "format parquet needs pyarrow: pip install 'collectorkit[parquet]'",
                    path="format",
                ) from None
        if max_attempts < 1:
            raise ConfigError(f"must be >= 1, got {max_attempts!r}", path="max_attempts")
        if part_size < _MIN_PART:
            raise ConfigError(
                f"must be >= {_MIN_PART} (S3's minimum), got {part_size!r}", path="part_size"
            )
        if multipart_threshold < part_size:
            raise ConfigError(
                f"must be >= part_size ({part_size}), got {multipart_threshold}",
                path="multipart_threshold",
            )
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.endpoint_url = endpoint_url
        self.region = region
        self.format = format
        self.time_field = time_field
        self.partition = partition
        # objects are written by orjson through json_default; the date is read from time_field
        self.passes_raw = True
        self.raw_fields = () if time_field is None else (time_field,)
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._credentials = (access_key_id, secret_access_key, session_token)
        for secret in (secret_access_key, session_token):
            register_secret(secret)  # masked in every log line and error, whatever the context
        self._timeout = timeout
        self._attempts = max_attempts
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._recent: dict[str, set[str]] = {}  # source -> keys of the last page stored

    def __repr__(self) -> str:
        return f"S3Sink({self.location!r}, format={self.format!r})"

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    async def _open(self) -> None:
        try:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session
        except ImportError:
            raise ConfigError(
                "the s3 sink needs aiobotocore: pip install 'collectorkit[s3]'", path="type"
            ) from None
        key_id, secret, token = self._credentials
        config = AioConfig(
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            retries={"max_attempts": self._attempts, "mode": "standard"},
        )
        stack = AsyncExitStack()
        self._client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=self.region or None,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=token,
                config=config,
            )
        )
        self._stack = stack

    async def _close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    async def _call(
        self, what: str, key: str, operation: str, *, expect: int = 0, **params: Any
    ) -> Any:
        """One S3 call; its failures become :class:`SinkError` naming the object (the one place
        botocore's exceptions are translated), except status ``expect`` (412: exists already,
        404: no such object), returned as is."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await getattr(self._client, operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            error = exc.response.get("Error", {})
            if status == expect and error.get("Code") != "NoSuchBucket":
                return int(status)
            detail = f"{status} {error.get('Code', '')} {error.get('Message', '')}".strip()
        except (BotoCoreError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
        raise SinkError(f"s3 sink {self.name!r}: {what} s3://{self.bucket}/{key}: {detail}")

    # -- naming -------------------------------------------------------------------------------

    def _partition_of(self, envelope: Envelope) -> str:
        if self.time_field is None:
            return _UNDATED
        when = instant_or_none(lookup_path(envelope.data, self.time_field))
        return _UNDATED if when is None else when.strftime(self.partition)

    def _groups(self, batch: list[Envelope]) -> dict[str, list[Envelope]]:
        """Object name -> its records, in batch order."""
        parts: dict[tuple[str, str], list[Envelope]] = {}
        for e in batch:
            parts.setdefault((e.source, self._partition_of(e)), []).append(e)
        suffix = _FORMATS[self.format]
        return {
            f"{self.prefix}{source}/{part}/{_digest([e.key for e in group])}{suffix}": group
            for (source, part), group in parts.items()
        }

    def _journal_name(self, source: str) -> str:
        return f"{self.prefix}_journal/{source}.json"

    # -- the page journal ----------------------------------------------------------------------

    async def _recover(self, source: str) -> set[str]:
        """Keys of the last page a previous run stored for ``source`` (objects that exist)."""
        name = self._journal_name(source)
        got = await self._call("read journal", name, "get_object", Key=name, expect=404)
        if isinstance(got, int):
            return set()
        async with got["Body"] as body:
            journal = orjson.loads(await body.read())
        stored = set(journal.get("stored", []))
        for obj, keys in journal.get("objects", {}).items():
            if not isinstance(
                await self._call("check", obj, "head_object", Key=obj, expect=404), int
            ):
                stored.update(keys)
        return stored

    async def _write_journal(
        self, groups: Mapping[str, list[Envelope]], skipped: list[Envelope]
    ) -> None:
        """Per source: the objects this store creates, and the keys it skips as stored."""
        for source in {g[0].source for g in groups.values()}:
            objects = {n: [e.key for e in g] for n, g in groups.items() if g[0].source == source}
            stored = [e.key for e in skipped if e.source == source]
            name = self._journal_name(source)
            body = orjson.dumps({"objects": objects, "stored": stored})
            await self._call("write journal", name, "put_object", Key=name, Body=body)

    # -- writing -------------------------------------------------------------------------------

    def _encode(self, group: list[Envelope]) -> bytes:
        if self.format == "parquet":
            return _parquet(group)
        return gzip.compress(b"".join(json_lines(group)), compresslevel=5)

    async def _create(self, name: str, body: bytes) -> bool:
        """Create object ``name`` once: ``False`` when it already exists (412)."""
        kind = "application/gzip" if self.format == "jsonl" else "application/vnd.apache.parquet"
        if len(body) <= self.multipart_threshold:
            got = await self._call(
                "put", name, "put_object", Key=name, Body=body, IfNoneMatch="*",
                ContentType=kind, expect=412,
            )  # fmt: skip
            return not isinstance(got, int)
        upload = await self._call(
            "start upload", name, "create_multipart_upload", Key=name, ContentType=kind
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(body), self.part_size), 1):
                chunk = body[start : start + self.part_size]
                part = await self._call(
                    "upload part", name, "upload_part", Key=name, UploadId=upload_id,
                    PartNumber=number, Body=chunk,
                )  # fmt: skip
                parts.append({"ETag": part["ETag"], "PartNumber": number})
            got = await self._call(
                "complete upload", name, "complete_multipart_upload", Key=name,
                UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*",
                expect=412,
            )  # fmt: skip
        except BaseException:
            await self._abort(name, upload_id)
            raise
        if isinstance(got, int):
            await self._abort(name, upload_id)
            return False
        return True

    async def _abort(self, name: str, upload_id: str) -> None:
        try:
            await self._call(
                "abort upload", name, "abort_multipart_upload", Key=name, UploadId=upload_id
            )
        except SinkError as exc:  # the bucket's lifecycle rule removes what is left
            _log.warning("%s", exc)

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        sources = {e.source for e in batch}
        for source in sources - self._recent.keys():
            self._recent[source] = await self._recover(source)
        todo = [e for e in batch if e.key not in self._recent[e.source]]
        groups = self._groups(todo)
        written = 0
        try:
            if groups:
                skipped = [e for e in batch if e.key in self._recent[e.source]]
                await self._write_journal(groups, skipped)
            for obj, group in groups.items():
                if await self._create(obj, self._encode(group)):
                    written += len(group)
        except BaseException:
            for source in sources:  # the next store reads the journal again
                self._recent.pop(source, None)
            raise
        for source in sources:
            self._recent[source] = {e.key for e in batch if e.source == source}
        return StoreResult(
            location=self.location,
            written=written,
            duplicates=len(batch) - written,
            location_id=next(iter(groups)) if len(groups) == 1 else "",
            backend_id=self.name,
        )

    # -- reading back --------------------------------------------------------------------------

    async def _names(self) -> list[str]:
        names: list[str] = []
        token: dict[str, Any] = {}
        while True:
            page = await self._call(
                "list", self.prefix, "list_objects_v2", Prefix=self.prefix, **token
            )
            names += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return [n for n in names if n.endswith(_FORMATS[self.format])]
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def read_object(self, name: str) -> list[Envelope]:
        """The records of object ``name``."""
        await self.connect()
        got = await self._call("get", name, "get_object", Key=name, expect=404)
        if isinstance(got, int):
            return []
        async with got["Body"] as body:
            data = await body.read()
        return _read_parquet(data) if name.endswith(".parquet") else _read_lines(data)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        """Every stored record, read back object by object (for tests and small buckets)."""
        await self.connect()
        found: list[Envelope] = []
        for name in await self._names():
            found += await self.read_object(name)
        return match_criteria(found, criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        """Delete object ``location_id`` (a name from :attr:`StoreResult.location_id`)."""
        await self.connect()
        found = await self._call("check", location_id, "head_object", Key=location_id, expect=404)
        if isinstance(found, int):
            return False
        await self._call("delete", location_id, "delete_object", Key=location_id)
        return True
