"""The service loop: heartbeats, inventory, the outbox, live configuration. The Windows service and
the systemd unit are thin shells around :class:`Agent`.

One worker thread runs :meth:`Agent.loop`; the caller's thread only waits for a stop request, so a stop
is honoured within :data:`STOP_GRACE` seconds even while a request to the backend hangs (what was in
flight is sent again at the next start; the server ignores the repeat).
"""

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import lanet
from lanet.agent import collectors, credentials, logs
from lanet.agent.collectors._common import warn_once
from lanet.agent.config import apply_updates, load_config, save_config
from lanet.agent.executor import Executor
from lanet.agent.monitor import Monitor
from lanet.agent.paths import AgentPaths
from lanet.agent.protect import default_protector
from lanet.agent.store import Store
from lanet.agent.transport import AuthLost, Deferred, Transport, TransportError
from lanet.protocol import contract
from lanet.protocol.contract import ContractError

log = logging.getLogger("lanet.agent.core")
wire = logging.getLogger(logs.HEARTBEAT)

STOP_GRACE = 4.5
FLUSH_ON_STOP = 2.5
INVENTORY_CHECK_EVERY = 1800.0
INVENTORY_MAX_AGE = 86400.0
UPDATES_CHECK_EVERY = 6 * 3600.0
JITTER = 0.1
ENDPOINTS = {
    "heartbeat": "/agents/heartbeat",
    "inventory": "/agents/inventory",
    "ticket": "/tickets/create-from-agent",
    "command_result": "/agents/commands/result",
}
PRIORITY = {"command_result": 1, "ticket": 1, "heartbeat": 5, "inventory": 7}


def inventory_digest(hardware_info: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(hardware_info, sort_keys=True).encode()).hexdigest()


def ca_bundle_of(paths: AgentPaths) -> str | None:
    """A private CA for the backend: ``config/ca.pem`` when present."""
    candidate = paths.config_dir / "ca.pem"
    return str(candidate) if candidate.exists() else None


def make_transport(paths: AgentPaths, store: Store, url: str, config: Any) -> Transport:
    return Transport(
        url,
        timeout=config.backend.timeout,
        backoff_base=config.backend.retry_delay,
        offline_after=config.backend.retry_attempts,
        verify=config.security.verify_ssl,
        ca_bundle=ca_bundle_of(paths),
        min_tls13=bool(store.get("min_tls13", False)),
        refresh_threshold=config.security.jwt_refresh_threshold,
        load_credentials=lambda: credentials.load(store),
        save_credentials=lambda creds: credentials.save(store, creds),
        identity=lambda: credentials.identity_secret(store),
    )


class Agent:
    def __init__(self, paths: AgentPaths, *, console: bool = False, home_given: bool = False) -> None:
        self.paths = paths
        paths.ensure()
        self.config = load_config(paths.config_file)
        log_dir = logs.log_dir_for(self.config, paths.logs_dir, home_given)
        self.log_buffer = logs.setup(self.config, log_dir, console=console)
        self.store = Store(
            paths.database, default_protector(paths.key_file, self.config.security.encryption_enabled)
        )
        self.transport = make_transport(paths, self.store, self.config.backend.url, self.config)
        self.sampler = collectors.MetricsSampler(collectors.threads_count)
        self.monitor = Monitor(self.store.get("monitor_open", {}))
        self.executor = Executor(
            self.store, paths.scripts_dir, lambda: self.config.scripts, self._queue_result
        )
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self.next_heartbeat = 0.0
        self.next_inventory_check = 0.0
        self._updates_thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return credentials.load(self.store) is not None and self.config.agent.asset_id is not None

    def run(self) -> int:
        """Run until :meth:`stop`; returns the process exit status."""
        if not self.registered:
            log.error("this agent is not registered: run 'lanet-agent register --server URL --token TOKEN'")
            return 2
        if not self.config.security.verify_ssl:
            log.warning(
                "!!! security.verify_ssl is false: the backend's certificate is NOT checked; anyone "
                "on the network path can impersonate it. Use config/ca.pem for a private CA instead."
            )
        if not self.config.security.encryption_enabled:
            log.warning("security.encryption_enabled is false: credentials are stored unencrypted")
        log.info(
            "LANET Agent %s started (asset %s, backend %s)",
            lanet.__version__,
            self.config.agent.asset_id,
            self.config.backend.url,
        )
        self.executor.recover()
        ipc = self._start_ipc()
        worker = threading.Thread(target=self.loop, name="agent-loop", daemon=True)
        worker.start()
        self.stop_event.wait()
        if ipc is not None:
            ipc.stop()
        self.executor.shutdown()
        worker.join(STOP_GRACE)
        if worker.is_alive():
            log.warning("stopping with a request still in flight; it is sent again at the next start")
        self.store.put("monitor_open", self.monitor.open)
        log.info("LANET Agent stopped")
        return 0

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def request_sync(self) -> None:
        """Send a heartbeat and drain the outbox now (a ticket was written, or the user asked)."""
        self.next_heartbeat = 0.0
        self._wake.set()

    def _start_ipc(self) -> Any:
        from lanet.agent.ipc import Handlers, channel_address, make_server

        try:
            server = make_server(channel_address(self.paths), Handlers(self))
        except Exception as exc:  # OSError, or pywintypes.error for the pipe
            log.warning("the tray channel could not start: %s", exc)
            return None
        server.start()
        return server

    def loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
            except Exception:  # the loop never dies of one bad pass
                log.exception("agent loop pass failed; continuing")
            self._wake.wait(self._sleep_for())
            self._wake.clear()
        self.drain(deadline=time.time() + FLUSH_ON_STOP)

    def _sleep_for(self) -> float:
        now = time.time()
        wake = min(self.next_heartbeat, self.next_inventory_check)
        ready = self.transport.ready_at()
        if self.store.outbox_counts() and ready > now:
            wake = min(wake, ready)
        return min(max(0.05, wake - now), 5.0)

    def tick(self) -> None:
        now = time.time()
        if now >= self.next_inventory_check:
            self.next_inventory_check = now + INVENTORY_CHECK_EVERY
            self.check_inventory()
            self._maybe_refresh_updates(now)
        if now >= self.next_heartbeat:
            interval = self.config.heartbeat.interval
            self.next_heartbeat = now + interval * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            if self.config.heartbeat.enabled:
                self.enqueue_heartbeat()
        self.drain()

    # --- heartbeat --------------------------------------------------------------------------------
    def build_heartbeat(self) -> dict[str, Any]:
        """Exactly what the next heartbeat sends (also what ``lanet-agent collect`` prints)."""
        cfg = self.config
        metrics = self.sampler.sample()
        service_list = collectors.services() if cfg.monitoring.service_monitoring else None
        status: dict[str, Any] = {}
        if cfg.heartbeat.include_metrics:
            status.update({k: v for k, v in metrics.items() if v is not None})
        if service_list is not None:
            status["services_status"] = [{"name": s["name"], "status": s["status"]} for s in service_list]
        if cfg.monitoring.process_monitoring:
            status["top_processes"] = collectors.top_processes(10)
        alerts = self.monitor.evaluate(metrics, service_list, cfg.monitoring)
        if alerts:
            self.store.put("monitor_open", self.monitor.open)
        send_logs = cfg.heartbeat.include_logs and cfg.logging.send_to_backend
        body: dict[str, Any] = {
            "asset_id": cfg.agent.asset_id,
            "status": status,
            "alerts": alerts,
            "logs": self.log_buffer.drain() if send_logs else [],
            "message_id": str(uuid.uuid4()),
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "agent_version": lanet.__version__,
            "config_revision": self.store.get("config_revision"),
            "command_acks": self.executor.acks(),
        }
        self.store.record_metrics(
            time.time(), metrics.get("cpu_usage"), metrics.get("memory_usage"), metrics.get("disk_usage")
        )
        # Validate with the shared contract before queueing: a bad value found here is a bug to log,
        # not a heartbeat to send and have refused.
        checked: dict[str, Any] = contract.drop_none(contract.validate("HeartbeatRequest", body))
        return checked

    def enqueue_heartbeat(self) -> None:
        body = self.build_heartbeat()
        self.store.enqueue("heartbeat", body["message_id"], body, PRIORITY["heartbeat"])
        self.store.put("heartbeats_queued", int(self.store.get("heartbeats_queued", 0)) + 1)

    # --- inventory --------------------------------------------------------------------------------
    def build_inventory(self) -> dict[str, Any]:
        info = collectors.inventory()
        cached = self.store.get("pending_updates")
        if info.get("updates") is not None and cached is not None:
            info["updates"]["pending_count"] = len(cached["names"])
            info["updates"]["pending"] = cached["names"][:2000]
        checked: dict[str, Any] = contract.validate("HardwareInfo", info)
        return checked

    def check_inventory(self) -> None:
        hardware_info = self.build_inventory()
        digest = inventory_digest(hardware_info)
        stale = time.time() - float(self.store.get("inventory_sent_at", 0)) > INVENTORY_MAX_AGE
        if digest != self.store.get("inventory_digest") or stale:
            body = {"asset_id": self.config.agent.asset_id, "hardware_info": hardware_info}
            self.store.replace_pending(
                "inventory",
                f"inventory-{digest[:32]}",
                {"digest": digest, "body": body},
                PRIORITY["inventory"],
            )
            log.info("inventory changed or due; queued for upload")

    def _maybe_refresh_updates(self, now: float) -> None:
        cached = self.store.get("pending_updates")
        if cached and now - cached["checked_at"] < UPDATES_CHECK_EVERY:
            return
        if self._updates_thread and self._updates_thread.is_alive():
            return

        def refresh() -> None:
            try:
                names = collectors.pending_updates()
            except Exception as exc:
                warn_once("updates.pending_count", f"{type(exc).__name__}: {exc}")
                self.store.put("pending_updates", {"names": [], "checked_at": time.time(), "failed": True})
                return
            self.store.put("pending_updates", {"names": names, "checked_at": time.time()})
            self.next_inventory_check = 0.0  # send the new count

        self._updates_thread = threading.Thread(target=refresh, name="updates-check", daemon=True)
        self._updates_thread.start()

    # --- outbox -----------------------------------------------------------------------------------
    def drain(self, deadline: float | None = None) -> int:
        """Send what is due, oldest first, until the outbox is empty or the transport says wait."""
        sent = 0
        while deadline is None or time.time() < deadline:
            if deadline is None and self.stop_event.is_set():
                break
            if time.time() < self.transport.ready_at():
                break
            item = self.store.next_ready()
            if item is None:
                break
            payload = item.payload["body"] if item.kind == "inventory" else item.payload
            try:
                data = self.transport.post(ENDPOINTS[item.kind], payload)
            except Deferred as exc:
                self.store.retry_later(item.id, exc.until, str(exc))
                break
            except AuthLost as exc:
                self.store.retry_later(item.id, time.time() + 300, str(exc))
                break
            except TransportError as exc:
                if exc.retryable:
                    self.store.retry_later(item.id, self.transport.ready_at(), str(exc))
                    wire.warning("%s not delivered, will retry: %s", item.kind, exc)
                    break
                wire.error("%s refused by the backend, dropped: %s", item.kind, exc)
                self.store.delivered(item.id)
                continue
            self.store.delivered(item.id)
            sent += 1
            self.store.put("last_contact", time.time())
            self._handle_reply(item.kind, item.payload, data)
        return sent

    def _handle_reply(self, kind: str, payload: dict[str, Any], data: dict[str, Any]) -> None:
        if kind == "inventory":
            self.store.put("inventory_digest", payload["digest"])
            self.store.put("inventory_sent_at", time.time())
            return
        if kind == "ticket":
            # The tray shows "enviado como TKT-000123" for the tickets this PC wrote.
            sent = self.store.get("sent_tickets", {})
            sent[payload["client_ticket_id"]] = data.get("number")
            self.store.put("sent_tickets", dict(list(sent.items())[-50:]))
            log.info("ticket %s created on the backend", data.get("number"))
            return
        if kind != "heartbeat":
            return
        try:
            reply = contract.Record(contract.validate("HeartbeatResponse", data))
        except ContractError as exc:
            wire.warning(
                "heartbeat reply has an unexpected shape, ignored: %s",
                exc.listed(5),
            )
            return
        wire.info("heartbeat delivered; next at %s", reply.next_heartbeat)
        self.store.put("last_heartbeat", time.time())
        if reply.config_updates:
            self.apply_config_updates(reply.config_updates)
        if reply.config_revision is not None:
            self.store.put("config_revision", reply.config_revision)
        for command in reply.commands:
            self.executor.submit(command)

    def _queue_result(self, result: dict[str, Any]) -> None:
        # The loop drains the outbox at least every few seconds, so the result leaves promptly.
        self.store.enqueue("command_result", result["command_id"], result, PRIORITY["command_result"])

    # --- configuration ----------------------------------------------------------------------------
    def apply_config_updates(self, updates: dict[str, Any]) -> None:
        new, applied, refused = apply_updates(self.config, updates)
        for key, reason in refused.items():
            log.warning("config update %s refused: %s", key, reason)
        if not applied:
            return
        old = self.config
        self.config = new
        save_config(self.paths.config_file, new)
        server_side = {k: v for k, v in applied.items() if k in ("auto_ticket_creation", "update_schedule")}
        if server_side:
            self.store.put("server_settings", {**self.store.get("server_settings", {}), **server_side})
        if new.logging.level != old.logging.level:
            logs.set_level(new.logging.level, self.log_buffer)
        self.log_buffer.enabled = new.logging.send_to_backend
        if new.heartbeat.interval != old.heartbeat.interval:
            self.next_heartbeat = min(self.next_heartbeat, time.time() + new.heartbeat.interval)
        self.transport.timeout = new.backend.timeout
        self.transport.backoff_base = new.backend.retry_delay
        self.transport.offline_after = new.backend.retry_attempts
        self.transport.refresh_threshold = new.security.jwt_refresh_threshold
        log.info(
            "configuration updated by the backend: %s", ", ".join(f"{k}={v}" for k, v in applied.items())
        )


def status_report(paths: AgentPaths) -> dict[str, Any]:
    """What ``lanet-agent status`` shows; reads the files, never contacts the backend."""
    config = load_config(paths.config_file)
    report: dict[str, Any] = {
        "version": lanet.__version__,
        "home": str(paths.config_dir.parent),
        "backend": config.backend.url,
        "asset_id": config.agent.asset_id,
        "client_id": config.agent.client_id,
        "site_id": config.agent.site_id,
        "heartbeat_interval": config.heartbeat.interval,
        "registered": False,
    }
    if not Path(paths.database).exists():
        return report
    store = Store(paths.database, default_protector(paths.key_file, config.security.encryption_enabled))
    try:
        creds = credentials.load(store)
        report.update(
            registered=creds is not None and config.agent.asset_id is not None,
            client_name=store.get("client_name"),
            site_name=store.get("site_name"),
            token_expires_at=_iso(creds.expires_at) if creds else None,
            last_contact=_iso(store.get("last_contact")),
            last_heartbeat=_iso(store.get("last_heartbeat")),
            outbox=store.outbox_counts(),
            heartbeats_queued=store.get("heartbeats_queued", 0),
            dropped_heartbeats=store.get("dropped_heartbeats", 0),
            config_revision=store.get("config_revision"),
        )
    finally:
        store.close()
    return report


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
