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
from pathlib import Path
from typing import Any

import lanet
from lanet.agent import collectors, credentials, heartbeat, logs
from lanet.agent.collectors._common import warn_once
from lanet.agent.config import apply_updates, load_config, save_config
from lanet.agent.executor import Executor
from lanet.agent.monitor import Monitor
from lanet.agent.outbox import Kind, Outbox
from lanet.agent.paths import AgentPaths
from lanet.agent.protect import default_protector
from lanet.agent.store import Store
from lanet.agent.tickets import AgentTicketDesk, technical_info
from lanet.agent.transport import Transport
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
#: After a pass that failed, the loop tries again this soon (seconds).
FAILED_PASS_PAUSE = 5.0
#: Dead letters named in one heartbeat (each is reported once).
DEAD_LETTERS_PER_HEARTBEAT = 20


def inventory_digest(hardware_info: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(hardware_info, sort_keys=True).encode()).hexdigest()


def ca_bundle_of(paths: AgentPaths) -> str | None:
    """A private CA for the backend: ``config/ca.pem`` when present."""
    candidate = paths.config_dir / "ca.pem"
    return str(candidate) if candidate.exists() else None


def _plain_http_allowed(store: Store, url: str) -> bool:
    """The development switch; an agent registered on http:// before the switch existed (its store
    has no answer either way) keeps working, warned about at every start like one with the switch."""
    chosen = store.get("insecure_http")
    if chosen is None and url.startswith("http://") and store.get("asset_id") is not None:
        return True
    return bool(chosen)


def make_transport(paths: AgentPaths, store: Store, url: str, config: Any) -> Transport:
    """The transport as the configuration says; rebuilt when the backend pushes new settings."""
    return Transport(
        url,
        timeout=config.backend.timeout,
        backoff_base=config.backend.retry_delay,
        offline_after=config.backend.retry_attempts,
        verify=config.security.verify_ssl,
        ca_bundle=ca_bundle_of(paths),
        min_tls13=bool(store.get("min_tls13", True)),
        allow_plain_http=_plain_http_allowed(store, url),
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
        self.outbox = Outbox(self.store, self.transport)
        self.sampler = collectors.MetricsSampler(collectors.threads_count)
        self.desk = AgentTicketDesk(
            self.store,
            self.outbox,
            lambda: self.transport,
            lambda: self.config.agent,
            lambda: technical_info(self.sampler, self.store, self.config.agent),
        )
        self._register_kinds()
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
        if self.config.backend.url.startswith("http://"):
            log.warning(
                "!!! plain http is allowed (registered with --allow-insecure-http, for development): "
                "tokens and data cross the network unencrypted"
            )
        log.info(
            "LANET Agent %s started (asset %s, backend %s)",
            lanet.__version__,
            self.config.agent.asset_id,
            self.config.backend.url,
        )
        self.executor.recover()
        channel = self._start_local_channel()
        worker = threading.Thread(target=self.loop, name="agent-loop", daemon=True)
        worker.start()
        self.stop_event.wait()
        if channel is not None:
            channel.stop()
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

    def _start_local_channel(self) -> Any:
        from lanet.agent.local import channel_address, make_server
        from lanet.agent.local.service import LocalService

        service = LocalService(self.desk, self.local_status, self.request_sync)
        try:
            server = make_server(channel_address(self.paths), service)
        except Exception as exc:  # OSError, or pywintypes.error for the pipe
            log.warning("the tray channel could not start: %s", exc)
            return None
        server.start()
        return server

    def local_status(self) -> dict[str, Any]:
        """What the tray's status shows, the same for every user of the PC (see the local channel)."""
        open_alerts = len(self.monitor.open)
        state = "offline" if self.transport.offline else ("warning" if open_alerts else "online")
        if self.store.get("last_contact") is None:
            state = "starting"
        return {
            "state": state,
            "client_name": self.store.get("client_name"),
            "site_name": self.store.get("site_name"),
            "asset_id": self.config.agent.asset_id,
            "backend": self.config.backend.url,
            "version": self.config.agent.version,
            "heartbeat_interval": self.config.heartbeat.interval,
            "last_contact": self.store.get("last_contact"),
            "open_alerts": sorted(self.monitor.open),
            "last_error": self.transport.last_error,
        }

    def loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
                pause = self._sleep_for()
            except Exception:  # the loop never dies of one bad pass (a locked store, a full disk)
                log.exception("agent loop pass failed; continuing")
                pause = FAILED_PASS_PAUSE
            self._wake.wait(pause)
            self._wake.clear()
        try:
            self.drain(deadline=time.time() + FLUSH_ON_STOP)
        except Exception:
            log.exception("the final flush failed; what was queued is sent at the next start")

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
            interval = float(self.config.heartbeat.interval)
            if not self.config.heartbeat.enabled:
                interval = heartbeat.checkin_interval(interval)
            self.next_heartbeat = now + interval * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            if self.config.heartbeat.enabled:
                self.enqueue_heartbeat()
            else:
                self.enqueue_heartbeat(checkin=True)
        self.drain()

    # --- heartbeat --------------------------------------------------------------------------------
    def _gather(self, *, preview: bool) -> tuple[heartbeat.Gathered, Monitor]:
        """What the next heartbeat is made of. ``preview`` changes nothing: alerts are evaluated on a
        copy of the monitor's state and the log buffer is only looked at."""
        cfg = self.config
        metrics = self.sampler.sample()
        services = collectors.services() if cfg.monitoring.service_monitoring else None
        monitor = Monitor(dict(self.monitor.open)) if preview else self.monitor
        send_logs = cfg.heartbeat.include_logs and cfg.logging.send_to_backend
        gathered = heartbeat.Gathered(
            asset_id=cfg.agent.asset_id,
            metrics=metrics,
            services=services,
            top_processes=collectors.top_processes(10) if cfg.monitoring.process_monitoring else None,
            alerts=monitor.evaluate(metrics, services, cfg.monitoring),
            logs=(self.log_buffer.peek() if preview else self.log_buffer.drain()) if send_logs else [],
            command_acks=self.executor.acks(),
            config_revision=self.store.get("config_revision"),
            include_metrics=cfg.heartbeat.include_metrics,
        )
        return gathered, monitor

    def preview_heartbeat(self) -> dict[str, Any]:
        """Exactly what the next heartbeat sends (``lanet-agent collect``), with no side effect."""
        gathered, _monitor = self._gather(preview=True)
        return heartbeat.build(gathered)

    def enqueue_heartbeat(self, *, checkin: bool = False) -> dict[str, Any]:
        """Gather, build and queue the next heartbeat (or, when heartbeats are off, a check-in)."""
        if checkin:
            gathered = heartbeat.Gathered(
                asset_id=self.config.agent.asset_id,
                command_acks=self.executor.acks(),
                config_revision=self.store.get("config_revision"),
            )
            body = heartbeat.build(gathered, checkin=True)
        else:
            gathered, _monitor = self._gather(preview=False)
            body = heartbeat.build(gathered)
            if gathered.alerts:
                self.store.put("monitor_open", self.monitor.open)
            metrics = gathered.metrics
            self.store.record_metrics(
                time.time(), metrics.get("cpu_usage"), metrics.get("memory_usage"), metrics.get("disk_usage")
            )
        self.outbox.put("heartbeat", body["message_id"], body)
        self.store.put("heartbeats_queued", int(self.store.get("heartbeats_queued", 0)) + 1)
        return body

    # --- inventory --------------------------------------------------------------------------------
    def build_inventory(self) -> dict[str, Any]:
        info = collectors.inventory()
        cached = self.store.get("pending_updates")
        if info.get("updates") is not None and cached is not None:
            info["updates"]["pending_count"] = len(cached["names"])
            info["updates"]["pending"] = cached["names"][:2000]
        checked: dict[str, Any] = contract.validate("HardwareInfo", contract.scrub(info))
        return checked

    def check_inventory(self) -> None:
        hardware_info = self.build_inventory()
        digest = inventory_digest(hardware_info)
        stale = time.time() - float(self.store.get("inventory_sent_at", 0)) > INVENTORY_MAX_AGE
        if digest != self.store.get("inventory_digest") or stale:
            body = {"asset_id": self.config.agent.asset_id, "hardware_info": hardware_info}
            self.outbox.replace("inventory", f"inventory-{digest[:32]}", {"digest": digest, "body": body})
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
    def _register_kinds(self) -> None:
        """Every message the agent sends through its outbox: a new endpoint is one entry here."""
        for kind in (
            Kind("command_result", "/agents/commands/result", priority=1, precious=True),
            Kind("ticket", "/tickets/create-from-agent", 1, True, delivered=self.desk.delivered),
            Kind(
                "heartbeat",
                "/agents/heartbeat",
                5,
                False,
                body=self._heartbeat_as_sent,
                delivered=self._heartbeat_delivered,
            ),
            Kind(
                "inventory",
                "/agents/inventory",
                7,
                True,
                body=lambda payload: payload["body"],
                delivered=self._inventory_delivered,
            ),
        ):
            self.outbox.register(kind)

    def drain(self, deadline: float | None = None) -> int:
        """Send what is due (see :class:`~lanet.agent.outbox.Outbox`); a stop ends the drain unless it
        is the final flush with its own deadline."""
        return self.outbox.drain(deadline, lambda: deadline is None and self.stop_event.is_set())

    def _heartbeat_as_sent(self, payload: dict[str, Any]) -> dict[str, Any]:
        dead = self.store.dead_letters(unreported=True, limit=DEAD_LETTERS_PER_HEARTBEAT)
        return heartbeat.with_dead_letters(payload, dead)

    def _inventory_delivered(
        self, payload: dict[str, Any], _data: dict[str, Any], _sent: dict[str, Any]
    ) -> None:
        self.store.put("inventory_digest", payload["digest"])
        self.store.put("inventory_sent_at", time.time())

    def _heartbeat_delivered(
        self, _payload: dict[str, Any], data: dict[str, Any], sent: dict[str, Any]
    ) -> None:
        self.store.mark_reported([dead["item_id"] for dead in sent.get("dead_letters", [])])
        try:
            reply = contract.Record(contract.validate("HeartbeatResponse", data))
        except ContractError as exc:
            wire.warning("heartbeat reply has an unexpected shape, ignored: %s", exc.listed(5))
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
        """A command's outcome: validated before it is queued (a result the server would refuse is a
        bug of ours, reported as one instead), then sent at once, not at the next tick."""
        try:
            checked = contract.validate("CommandResult", result)
        except ContractError as exc:
            log.error("the result of command %s does not fit the contract: %s", result["command_id"], exc)
            checked = contract.validate(
                "CommandResult",
                {
                    "command_id": result["command_id"],
                    "status": "failed",
                    "reason": f"the agent built an invalid result: {exc.listed(3)}"[:1000],
                },
            )
        self.outbox.put("command_result", checked["command_id"], contract.drop_none(checked))
        self._wake.set()

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
        if new.heartbeat.interval != old.heartbeat.interval or new.heartbeat.enabled != old.heartbeat.enabled:
            self.next_heartbeat = min(self.next_heartbeat, time.time() + new.heartbeat.interval)
        self.transport.reconfigure(
            timeout=new.backend.timeout,
            backoff_base=new.backend.retry_delay,
            offline_after=new.backend.retry_attempts,
            refresh_threshold=new.security.jwt_refresh_threshold,
        )
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
            dead_letters=[
                {
                    "kind": dead.kind,
                    "id": dead.id,
                    "status": dead.status,
                    "code": dead.code,
                    "error": dead.error,
                    "refused_at": _iso(dead.refused_at),
                    "reported": dead.reported,
                }
                for dead in store.dead_letters()
            ],
            heartbeats_queued=store.get("heartbeats_queued", 0),
            dropped_heartbeats=store.get("dropped_heartbeats", 0),
            config_revision=store.get("config_revision"),
        )
    finally:
        store.close()
    return report


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
