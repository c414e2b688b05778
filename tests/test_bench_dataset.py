"""The big dataset, built small: what the bulk replies write agrees with what the actions keep."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench import dataset
from collab.consultations.models import Contribution
from collab.db import Database
from collab.forums.models import Post, Thread
from collab.models import EventLog, TopicSeq


async def _check(url: str, ids: dict[str, int]) -> None:
    db = Database(url)
    try:
        async with db.session() as s:
            counts = await s.execute(
                select(Thread.id, Thread.post_count, Thread.last_activity_at,
                       func.count(Post.id), func.max(Post.created_at))
                .join(Post, Post.thread_id == Thread.id)
                .group_by(Thread.id)
            )  # fmt: skip
            for thread_id, post_count, last_activity, posts, newest in counts:
                assert post_count == posts, thread_id
                assert last_activity == newest, thread_id
            # Each topic's log: seqs 1..last, none missing, none twice.
            topics = await s.execute(
                select(TopicSeq.topic, TopicSeq.last_seq, func.count(EventLog.seq),
                       func.min(EventLog.seq), func.max(EventLog.seq))
                .join(EventLog, EventLog.topic == TopicSeq.topic)
                .group_by(TopicSeq.topic, TopicSeq.last_seq)
            )  # fmt: skip
            for topic, last, n, first, highest in topics:
                assert (n, first, highest) == (last, 1, last), topic
            # A post.created event for every reply of the big thread.
            big = ids["big_thread"]
            logged = await s.scalar(
                select(func.count()).where(
                    EventLog.topic == f"thread:{big}",
                    EventLog.payload["type"].as_string() == "post.created",
                )
            )
            assert logged == ids["big_thread_posts"] - 1
            per_consultation = await s.scalar(
                select(func.count()).where(Contribution.consultation_id == ids["big_consultation"])
            )
            assert per_consultation == ids["big_consultation_contributions"]
    finally:
        await db.dispose()


@pytest.mark.slow
def test_the_dataset_keeps_counters_and_the_event_log_as_the_actions_do(tmp_path: Path) -> None:
    manifest = dataset.make(tmp_path / "data", None, 0.01)
    counts = manifest["ids"]["counts"]
    assert counts["posts"] == round(100_007 * 0.01)
    assert counts["comuni"] >= 43 and counts["meetings"] >= 4
    asyncio.run(_check(manifest["env"]["DATABASE_URL"], manifest["ids"]))
