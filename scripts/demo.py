"""The main job: create one interview through VersiveClient and print it.

Against the API when VERSIVE_API_KEY is set, otherwise against the bundled fake Versive
on a loopback port.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from versive_client import VersiveClient, VersiveError
from versive_client.testing import FakeVersive


async def create_one(base_url: str | None, api_key: str | None) -> None:
    """Create an interview and print its link and JSON."""
    async with VersiveClient(api_key, base_url=base_url) as versive:
        interview = await versive.create_interview(
            "study_demo", title="Demo interview", metadata={"participant_id": "p-0001"}
        )
    print(f"Created interview {interview.id} at {versive.base_url}")
    print(f"Link for the participant: {interview.link}")
    print(json.dumps(interview.to_dict(), indent=2))


async def main() -> int:
    """Run against the API or the fake; returns the exit status."""
    try:
        if os.environ.get("VERSIVE_API_KEY"):
            await create_one(None, None)
        else:
            print("VERSIVE_API_KEY is not set: using the bundled fake Versive on loopback.")
            async with FakeVersive(api_key="demo-key").serve() as base_url:
                await create_one(base_url, "demo-key")
    except VersiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
