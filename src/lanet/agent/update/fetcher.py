"""Downloads for the TUF client, made as the agent makes its requests: its JWT, its TLS settings
(TLS 1.3 and verification on by default, the configured CA bundle), and resumable packages.

A package is fetched by its consistent-snapshot name (``<sha256>.<file>``), so the bytes already
kept in ``partial_dir`` under that name can only belong to that package: the next attempt replays
them and asks the server for the rest with ``Range``. TUF still checks the length and hash of the
whole before anything uses it. Loaded only by the update worker, never by the service.
"""

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

import lanet
from lanet.agent.transport import tls_context

CHUNK = 256 * 1024


class AgentFetcher(FetcherInterface):
    def __init__(
        self,
        token: str,
        *,
        verify: bool = True,
        ca_bundle: str | None = None,
        min_tls13: bool = True,
        partial_dir: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.token = token
        self.partial_dir = partial_dir
        self.timeout = timeout
        #: Bytes of the last package download that came from what an earlier attempt kept.
        self.resumed_from = 0
        context: ssl.SSLContext = tls_context(verify, ca_bundle, min_tls13)
        self._pool = urllib3.PoolManager(ssl_context=context, retries=urllib3.Retry(total=2, redirect=0))

    def _partial(self, url: str) -> Path | None:
        if self.partial_dir is None or "/releases/targets/" not in url:
            return None
        return self.partial_dir / (Path(urlsplit(url).path).name + ".part")

    def _request(self, url: str, have: int) -> urllib3.BaseHTTPResponse:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": f"lanet-agent/{lanet.__version__}"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            return self._pool.request(
                "GET", url, headers=headers, preload_content=False, timeout=urllib3.Timeout(self.timeout)
            )
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.TimeoutError):
                raise exceptions.SlowRetrievalError from exc
            raise exceptions.DownloadError(f"{url}: {exc.reason}") from exc
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, a TLS failure
            raise exceptions.DownloadError(f"{url}: {exc}") from exc

    def _fetch(self, url: str) -> Iterator[bytes]:
        partial = self._partial(url)
        have = partial.stat().st_size if partial is not None and partial.exists() else 0
        response = self._request(url, have)
        if have and response.status == 416:  # what was kept is not a prefix any more: start over
            response.release_conn()
            have = 0
            response = self._request(url, 0)
        if response.status >= 400:
            response.release_conn()
            raise exceptions.DownloadHTTPError(
                f"HTTP error occurred with status {response.status}", response.status
            )
        if have and response.status != 206:
            have = 0  # the server sent the whole file
        self.resumed_from = have
        return self._chunks(response, partial, have)

    def _chunks(self, response: urllib3.BaseHTTPResponse, partial: Path | None, have: int) -> Iterator[bytes]:
        try:
            if partial is None:
                yield from response.stream(CHUNK)
                return
            partial.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "r+b" if have else "wb") as kept:
                while have and (chunk := kept.read(min(CHUNK, have))):
                    have -= len(chunk)
                    yield chunk
                kept.truncate()
                for chunk in response.stream(CHUNK):
                    kept.write(chunk)
                    kept.flush()
                    yield chunk
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError from exc
        except urllib3.exceptions.HTTPError as exc:  # the connection broke mid-download
            raise exceptions.DownloadError(str(exc)) from exc
        finally:
            response.release_conn()

    def forget(self, url_name: str) -> None:
        """Drop the kept bytes of a package once it is verified (or refused)."""
        if self.partial_dir is not None:
            (self.partial_dir / (url_name + ".part")).unlink(missing_ok=True)
