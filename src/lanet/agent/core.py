"""Wiring and lifecycle: builds the service's parts from the configuration (the transport, the outbox
and its registry of kinds, heartbeats, inventory, scripts, tickets, the tray's local channel),
schedules them, stops cleanly. The Windows service and the systemd unit are thin shells around it.

One worker thread runs :meth:`Agent.loop`; the caller's thread only waits for a stop request, so a stop
is honoured within :data:`STOP_GRACE` seconds even while a request to the backend hangs (what was in
flight is sent again at the next start; the server ignores the repeat).
"""

import dataclasses
import logging
import random
import threading
import time
from typing import Any

import lanet
from lanet.agent import backend, collectors, folders, heartbeat, local, logs, patches, update
from lanet.agent.config import apply_pushed, load_config
from lanet.agent.executor import Executor, checked_result
from lanet.agent.inventory import CHECK_EVERY, Inventory
from lanet.agent.monitor import Monitor
from lanet.agent.outbox import Kind, Outbox
from lanet.agent.patches.manager import Patches
from lanet.agent.paths import AgentPaths
from lanet.agent.secrets import credentials
from lanet.agent.secrets.protect import default_protector
from lanet.agent.status import live_status
from lanet.agent.store import Store
from lanet.agent.tickets import AgentTicketDesk, technical_info
from lanet.agent.update.manager import Updates

log = logging.getLogger("lanet.agent.core")

STOP_GRACE = 4.5
FLUSH_ON_STOP = 2.5
#: How often the main thread looks for a stop a signal asked for.
STOP_POLL = 0.25
JITTER = 0.1
FAILED_PASS_PAUSE = 5.0  # after a pass that failed, the loop tries again this soon (seconds)


class Agent:
    def __init__(self, paths: AgentPaths, *, console: bool = False, home_given: bool = False) -> None:
        self.paths = paths
        self.stop_event, self._wake = threading.Event(), threading.Event()
        #: Set by a signal handler, acted on by the main thread (see :meth:`request_stop`).
        self._stop_requested = False
        folders.prepare(paths)
        self.config = load_config(paths.config_file)
        self.log_buffer = logs.setup(
            self.config, logs.log_dir_for(self.config, paths.logs_dir, home_given), console=console
        )
        protector = default_protector(paths.key_file, self.config.security.encryption_enabled)
        self.store = Store(paths.database, protector)
        self.transport = backend.make_transport(paths, self.store, self.config.backend.url, self.config)
        self.outbox = Outbox(self.store, self.transport)
        self.sampler = collectors.MetricsSampler(collectors.threads_count)
        self.monitor = Monitor(self.store.get("monitor_open", {}))
        self.executor = Executor(
            self.store, paths.scripts_dir, lambda: self.config.scripts, self._queue_result
        )
        self.heartbeats = heartbeat.HeartbeatSource(
            lambda: self.config, self.store, self.sampler, self.monitor, self.log_buffer, self.executor.acks
        )
        self.updates = Updates(self.store, lambda: self.config, paths, home_given, self._wake.set)
        self.patches = Patches(self.store, lambda: self.config, paths, home_given, self._wake.set)
        self.heartbeats.on_answer(
            self.apply_config_updates, self.executor.submit, self.updates.answered, self.patches.request
        )
        self.inventory = Inventory(self.store, self.outbox, lambda: self.config.agent.asset_id, self._soon)
        self.desk = AgentTicketDesk(
            self.store,
            self.outbox,
            lambda: self.transport,
            lambda: self.config.agent,
            lambda: technical_info(self.sampler, self.store, self.config.agent),
        )
        # Every message the agent sends through its outbox: a new endpoint is one entry here.
        beats = self.heartbeats
        for kind in (
            Kind("command_result", "/agents/commands/result", priority=1, precious=True),
            Kind("ticket", "/tickets/create-from-agent", 1, True, delivered=self.desk.delivered),
            Kind("heartbeat", "/agents/heartbeat", 5, False, beats.as_sent, beats.answered),
            Kind("inventory", "/agents/inventory", 7, True, lambda p: p["body"], self.inventory.delivered),
            update.REPORTS,
            dataclasses.replace(patches.SCANS, delivered=self.patches.delivered),
            patches.REPORTS,
        ):
            self.outbox.register(kind)
        self.next_heartbeat = 0.0
        self.next_inventory_check = 0.0

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return credentials.load(self.store) is not None and self.config.agent.asset_id is not None

    def run(self) -> int:
        """Run until :meth:`stop`; returns the process exit status."""
        if not self.registered:
            log.error("this agent is not registered: run 'lanet-agent register --server URL --token TOKEN'")
            return 2
        backend.warn_about_weak_settings(self.config)
        log.info(
            "LANET Agent %s started (asset %s, backend %s)",
            lanet.__version__,
            self.config.agent.asset_id,
            self.config.backend.url,
        )
        self.executor.recover()
        status = lambda: live_status(self.config, self.store, self.transport, self.monitor)  # noqa: E731
        channel = local.serve_tray(
            local.channel_address(self.paths), self.desk, status, self.request_sync, self.patches.reboots
        )
        worker = threading.Thread(target=self.loop, name="agent-loop", daemon=True)
        worker.start()
        # Never an untimed wait: a signal the kernel hands to another thread does not wake a main
        # thread blocked on a lock, and its handler only runs once the main thread runs Python again.
        while not self.stop_event.wait(STOP_POLL):
            if self._stop_requested:
                self.stop()
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

    def request_stop(self) -> None:
        """For a signal handler: only a flag. A handler runs in the main thread between two of its
        steps, possibly while it holds an Event's lock, so taking that lock here could deadlock; the
        main thread's wait in :meth:`run` sees the flag within :data:`STOP_POLL`."""
        self._stop_requested = True

    def request_sync(self) -> None:
        """Send a heartbeat and drain the outbox now (a ticket was written, or the user asked)."""
        self.next_heartbeat = 0.0
        self._wake.set()

    def _soon(self) -> None:
        self.next_inventory_check = 0.0

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
            self.next_inventory_check = now + CHECK_EVERY
            self.inventory.check()
            self.inventory.refresh_updates(now)
        if now >= self.next_heartbeat:
            enabled = self.config.heartbeat.enabled
            interval = float(self.config.heartbeat.interval)
            interval = interval if enabled else heartbeat.checkin_interval(interval)
            self.next_heartbeat = now + interval * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            self.heartbeats.queue(self.outbox, checkin=not enabled)
        self.updates.tick()
        self.patches.tick()
        self.drain()

    def drain(self, deadline: float | None = None) -> int:
        """Send what is due (see :class:`~lanet.agent.outbox.Outbox`); a stop ends the drain unless it
        is the final flush with its own deadline."""
        return self.outbox.drain(deadline, lambda: deadline is None and self.stop_event.is_set())

    # --- what ``collect`` shows, and what the tests drive -----------------------------------------
    def preview_heartbeat(self) -> dict[str, Any]:
        """Exactly what the next heartbeat sends, with no side effect."""
        return self.heartbeats.preview()

    def enqueue_heartbeat(self, *, checkin: bool = False) -> dict[str, Any]:
        return self.heartbeats.queue(self.outbox, checkin=checkin)

    # --- answers --------------------------------------------------------------------------------
    def _queue_result(self, result: dict[str, Any]) -> None:
        """A command's outcome, validated (:func:`~lanet.agent.executor.checked_result`), sent at once."""
        checked = checked_result(result)
        self.outbox.put("command_result", checked["command_id"], checked)
        self._wake.set()

    def apply_config_updates(self, updates: dict[str, Any]) -> None:
        """Configuration the backend pushed (see :func:`lanet.agent.config.apply_pushed`)."""
        old, self.config = self.config, apply_pushed(self.config, updates, self.paths.config_file)
        if self.config is old:
            return
        logs.follow(self.config, self.log_buffer)
        backend.reconfigure(self.transport, self.config)
        beat, was = self.config.heartbeat, old.heartbeat
        if (beat.interval, beat.enabled) != (was.interval, was.enabled):
            self.next_heartbeat = min(self.next_heartbeat, time.time() + self.config.heartbeat.interval)
