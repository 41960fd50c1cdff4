"""Wires real time into the app: the bus starts after Channels does and stops before it.

The plugin owns the hub, bus, presence and socket counts of this process; ``create_app`` hands
it the process's Redis client and connects the hub to the parts that listen to it.
"""

from __future__ import annotations

from functools import partial

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from redis.asyncio import Redis

from takeamoment.connection.injection import provide_value
from takeamoment.db.engine import Database
from takeamoment.realtime.bus import Bus, make_channels_plugin
from takeamoment.realtime.catch_up import offer_latest
from takeamoment.realtime.hub import Hub
from takeamoment.realtime.limits import STATE_KEY as CONNECTIONS_KEY
from takeamoment.realtime.limits import ConnectionCounter
from takeamoment.realtime.presence import Presence
from takeamoment.realtime.snapshots import Snapshots
from takeamoment.realtime.standing import Standing
from takeamoment.realtime.ws import event_stream, my_stream
from takeamoment.services.versions import KnownVersions
from takeamoment.settings import Settings


class RealtimePlugin(InitPluginProtocol):
    """Adds the WebSocket routes and this process's hub and bus; list ``channels`` first."""

    def __init__(self, db: Database, settings: Settings, redis: Redis | None) -> None:
        self.hub = Hub(max_backlog=settings.ws_max_backlog)
        # What this process may take as an event's current version (snapshots, public reads).
        self.known = KnownVersions()
        self.snapshots = Snapshots(db, self.known)
        self.connections = ConnectionCounter(settings.ws_max_per_client)
        self.redis = redis
        self.channels = make_channels_plugin(redis, settings.bus_channel)
        self.bus = Bus(self.channels, self.hub, settings.bus_channel, redis)
        self.bus.on_resubscribed = partial(offer_latest, db, self.hub)
        self.standing = Standing(db, settings.ws_reauth_seconds)
        self.presence = Presence(self.hub, redis, settings.bus_channel)
        self.hub.on_membership.append(self.presence.changed)
        self.hub.listeners.append(self.known.heard)
        self.hub.on_commit.append(self.known.heard)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([event_stream, my_stream])
        app_config.state["hub"] = self.hub
        app_config.state["standing"] = self.standing
        app_config.state["snapshots"] = self.snapshots
        app_config.state["known_versions"] = self.known
        app_config.state["redis"] = self.redis
        app_config.state["presence"] = self.presence
        app_config.state["bus"] = self.bus
        app_config.state[CONNECTIONS_KEY] = self.connections
        app_config.dependencies.update(
            {
                "hub": provide_value(self.hub),
                "bus": provide_value(self.bus),
                "presence": provide_value(self.presence),
                "redis": provide_value(self.redis),
            }
        )
        # ``self.channels`` comes before this plugin in the app's list, so Channels has already
        # registered its start-up hooks and ours run after them.
        app_config.on_startup.extend([self.bus.start, self.presence.start, self.standing.start])
        app_config.on_shutdown[:0] = [self.standing.stop, self.presence.stop, self.bus.stop]
        return app_config
