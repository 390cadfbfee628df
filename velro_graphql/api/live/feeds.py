"""Feeds: every user's feeds (api/live/feed.py), each change read once.

Events mark a user's feeds dirty; one flush task per user reads every dirty feed in one fresh
context (one transaction as the user, fresh loaders), renders each payload once and hands the
same text to every subscriber of the feed. A feed already dirty is not queued again: a burst
of events costs one read. An event that carries its object's state (api/live/states.py) is
rendered from it for the feeds that can, and handed to their members at once, with no read.

A read that fails because the database is out of reach ends nobody: the feed keeps its pending
changes and joiners and is read again after a capped, jittered backoff until it heals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from velro_graphql.api.live.execution import Renderer, encode_failure
from velro_graphql.api.live.feed import Feed, FeedKey, Subscriber
from velro_graphql.backoff import backoff_delay
from velro_graphql.entities import Caller
from velro_graphql.services.events import Event
from velro_graphql.services.health import database_unavailable

if TYPE_CHECKING:
    from velro_graphql.api.context import Context

log = logging.getLogger(__name__)


class _UserFeeds:
    __slots__ = ("dirty", "feeds", "flush", "topics")

    def __init__(self) -> None:
        self.feeds: dict[FeedKey, Feed] = {}
        self.topics: dict[Hashable, dict[Feed, None]] = {}  # by their source's topic
        self.dirty: dict[Feed, None] = {}
        self.flush: asyncio.Task[None] | None = None

    def add(self, feed: Feed) -> Feed:
        """The feed of `feed`'s key: `feed`, unless another subscriber made it first."""
        found = self.feeds.setdefault(feed.key, feed)
        if found is feed:
            self.topics.setdefault(feed.source.topic, {})[feed] = None
        return found

    def remove(self, feed: Feed) -> None:
        del self.feeds[feed.key]
        topic = self.topics[feed.source.topic]
        del topic[feed]
        if not topic:
            del self.topics[feed.source.topic]

    def concerned(self, event: Event) -> list[Feed]:
        """The feeds that may want the event: those of its object and those of none."""
        if event.id is None:
            return list(self.feeds.values())
        return [*self.topics.get(event.id, ()), *self.topics.get(None, ())]


class Feeds:
    def __init__(self, renderer: Renderer, open_context: Callable[[Caller], Context]) -> None:
        self._renderer = renderer
        self._open_context = open_context
        self._users: dict[UUID, _UserFeeds] = {}

    @property
    def subscriber_count(self) -> int:
        feeds = (feed for user in self._users.values() for feed in user.feeds.values())
        return sum(len(feed.members) + len(feed.joiners) for feed in feeds)

    def get(self, key: FeedKey) -> Feed | None:
        user = self._users.get(key[0])
        return user.feeds.get(key) if user else None

    def join(self, subscriber: Subscriber) -> None:
        """Add a subscriber to its feed; its first message is the feed's next read."""
        user = self._users.setdefault(subscriber.feed.key[0], _UserFeeds())
        # Another subscriber may have made the same feed while this one's was being made.
        feed = subscriber.feed = user.add(subscriber.feed)
        feed.joiners[subscriber] = None
        self._mark(user, feed)

    def leave(self, subscriber: Subscriber) -> None:
        subscriber.active = False
        feed = subscriber.feed
        feed.members.pop(subscriber, None)
        feed.joiners.pop(subscriber, None)
        user = self._users.get(feed.key[0])
        if not feed.empty or user is None or user.feeds.get(feed.key) is not feed:
            return
        user.remove(feed)
        user.dirty.pop(feed, None)
        if feed.retry is not None:
            feed.retry.cancel()
        if not user.feeds:
            del self._users[feed.key[0]]

    def publish(self, user_id: UUID | None, event: Event) -> None:
        """The event hub's listener: mark the feeds the event concerns (all users' for None)."""
        if user_id is None:
            users = list(self._users.values())
        else:
            found = self._users.get(user_id)
            users = [found] if found else []
        for user in users:
            for feed in user.concerned(event):  # a copy: a final state ends subscriptions
                if not self._rendered(feed, event) and feed.note(event):
                    self._mark(user, feed)

    @staticmethod
    def _rendered(feed: Feed, event: Event) -> bool:
        """Hand the feed's members the payload rendered from the state the event carries,
        skipping those that have a newer one; False when there is none to render (read it)."""
        plan, state = feed.plan, event.state
        if plan is None or state is None or not feed.source.wants(event):
            return False
        payload = plan.render(state)
        version = state.get("version")
        if payload is None or not isinstance(version, int):
            return False
        final = feed.source.final(state)
        for subscriber in list(feed.members):
            if version > subscriber.seen:
                subscriber.seen = version
                subscriber.deliver(None, payload)
                if final:
                    subscriber.owner.end(subscriber)
        return True

    async def close(self) -> None:
        users, self._users = list(self._users.values()), {}  # no retry finds a feed after this
        for user in users:
            for feed in user.feeds.values():
                if feed.retry is not None:
                    feed.retry.cancel()
        flushes = [user.flush for user in users if user.flush]
        for flush in flushes:
            flush.cancel()
        await asyncio.gather(*flushes, return_exceptions=True)

    def _mark(self, user: _UserFeeds, feed: Feed) -> None:
        user.dirty[feed] = None
        if user.flush is None:
            user.flush = asyncio.create_task(self._flush(user))

    async def _flush(self, user: _UserFeeds) -> None:
        try:
            while user.dirty:
                batch = list(user.dirty)
                user.dirty.clear()
                await self._refresh_all(batch)
        finally:
            user.flush = None

    async def _refresh_all(self, batch: list[Feed]) -> None:
        context = self._open_context(batch[0].caller)
        try:
            if len(batch) == 1:
                await self._refresh(batch[0], context)
            else:
                await asyncio.gather(*(self._refresh(feed, context) for feed in batch))
        finally:
            try:
                await context.close()
            except Exception:
                log.exception("closing a live read's session failed")

    async def _refresh(self, feed: Feed, context: Context) -> None:
        changes, joiners = feed.take()
        try:
            if changes and not feed.source.snapshot:
                newcomers = set(joiners)
                members = [s for s in feed.members if s not in newcomers]
                await self._send(feed, context, changes, members)
                changes = []
            await self._send(feed, context, (), list(feed.members) if changes else joiners)
        except Exception as error:  # only unavailability escapes `_send`
            feed.put_back(changes, joiners)
            self._retry_later(feed, error)
            return
        if feed.failures:
            log.info("live read healed after %d failed attempts", feed.failures)
            feed.failures = 0

    def _retry_later(self, feed: Feed, error: BaseException) -> None:
        if not feed.failures:
            log.warning("live read failed (%r); retrying until the database answers", error)
        feed.failures += 1
        delay = backoff_delay(feed.failures, first=0.5, cap=30.0)
        if feed.retry is not None:  # one timer a feed: an event marked it again meanwhile
            feed.retry.cancel()
        feed.retry = asyncio.get_running_loop().call_later(delay, self._retry, feed)

    def _retry(self, feed: Feed) -> None:
        feed.retry = None
        user = self._users.get(feed.key[0])
        if user is not None and user.feeds.get(feed.key) is feed:
            self._mark(user, feed)

    async def _send(
        self, feed: Feed, context: Context, changes: Sequence[Event], to: list[Subscriber]
    ) -> None:
        """Read and render once; hand the same payloads to every subscriber in `to`."""
        if not to:
            return
        try:
            items = await feed.source.read(context, changes)
            payloads = await self._renderer.render(feed.selection, context, items)
        except Exception as error:
            if database_unavailable(error):
                raise  # the feed retries; nobody ends
            # The source refuses (its object is gone, say) or has a bug: its subscriptions end.
            self._end(to, encode_failure(error, context))
            return
        versions = [feed.source.version(value) for _, value in items]
        for subscriber in to:
            if subscriber.active:
                for (slot, payload), version in zip(payloads, versions, strict=True):
                    subscriber.offer(slot, payload, version)
        if feed.source.finished(items):
            self._end(to, None)

    @staticmethod
    def _end(subscribers: list[Subscriber], last: str | None) -> None:
        for subscriber in subscribers:
            if subscriber.active:
                if last is not None:
                    subscriber.deliver(None, last)
                subscriber.owner.end(subscriber)
