"""Where each key of a pushed ``config_updates`` lands in the agent's ``agent_config.json``.

Keys are flat, as the seed shows them: (section, key) in the file, or ``None`` where the server acts
on the key itself. Plain data, so the agent's service can import it without the validation library.
"""

CONFIG_KEYS: dict[str, tuple[str, str] | None] = {
    "heartbeat_interval": ("heartbeat", "interval"),
    "heartbeat_enabled": ("heartbeat", "enabled"),
    "include_metrics": ("heartbeat", "include_metrics"),
    "include_logs": ("heartbeat", "include_logs"),
    "log_level": ("logging", "level"),
    "send_logs_to_backend": ("logging", "send_to_backend"),
    "monitoring_enabled": ("monitoring", "enabled"),
    "cpu_threshold": ("monitoring", "cpu_threshold"),
    "memory_threshold": ("monitoring", "memory_threshold"),
    "disk_threshold": ("monitoring", "disk_threshold"),
    "cpu_threshold_minutes": ("alert_delays", "cpu_minutes"),
    "memory_threshold_minutes": ("alert_delays", "memory_minutes"),
    "disk_threshold_minutes": ("alert_delays", "disk_minutes"),
    "service_monitoring": ("monitoring", "service_monitoring"),
    "process_monitoring": ("monitoring", "process_monitoring"),
    "scripts_enabled": ("scripts", "enabled"),
    "allowed_scripts": ("scripts", "allowed_types"),
    "script_timeout": ("scripts", "timeout"),
    "max_concurrent_scripts": ("scripts", "max_concurrent"),
    "auto_ticket_creation": None,
    "update_schedule": ("updates", "schedule"),
    "update_window_minutes": ("updates", "window_minutes"),
    "updates_enabled": ("updates", "enabled"),
}


class UnknownConfigKeyError(KeyError):
    """A key that is not part of the pushed configuration."""
