"""What the petition log costs at the bench petition's size, measured in process.

    .venv/bin/python bench/checkpoint_bench.py --database postgresql+psycopg://.../db \
        --signatures 300000

1. A fresh open petition with `--signatures` confirmed signatures, bulk-inserted, and their
   log entries (as the demo and `bench-data` load them: unsequenced).
2. The first checkpoint: sequences every entry (leaf hashes, complete subtrees) and signs.
3. A minute of busy signing (`--minute` new entries, 15,000 = 250/s), then the next
   checkpoint: it costs the new entries, not the petition's size.
4. One more entry and a checkpoint; a consistency proof between the two; an inclusion proof.

Each step is timed once, wall clock, on whatever else the machine is doing: a figure to
compare orders of magnitude with, not a benchmark to quote to the millisecond.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(label: str, action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - started:.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--signatures", type=int, default=300_000)
    parser.add_argument("--minute", type=int, default=15_000)
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("give --database (or DATABASE_URL)")

    import sqlalchemy as sa

    from fancampaign import create_app
    from fancampaign.extensions import db, utcnow
    from fancampaign.ledger import services as ledger
    from fancampaign.ledger.verifier import verify_consistency, verify_inclusion
    from fancampaign.petitions.models import Petition, Signature

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database,
            "SECRET_KEY": secrets.token_hex(16),
            "LOG_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    with app.app_context():
        db.create_all()
        run = secrets.token_hex(4)
        petition = Petition(
            slug=f"checkpoint-bench-{run}",
            title="Checkpoint bench",
            summary="The petition log at scale.",
            target="The benchmark",
            status="open",
            opened_at=utcnow(),
        )
        db.session.add(petition)
        db.session.flush()
        now = utcnow()

        def add_signatures(n: int, start: int) -> None:
            rows = [
                {
                    "petition_id": petition.id,
                    "name": "",
                    "email": f"c{run}.{i}@bench.invalid",
                    "email_normalised": f"c{run}.{i}@bench.invalid",
                    "confirmed_at": now,
                    "created_at": now,
                }
                for i in range(start, start + n)
            ]
            for chunk in range(0, n, 20_000):
                db.session.execute(sa.insert(Signature), rows[chunk : chunk + 20_000])
            ledger.record_existing(petition.id)
            db.session.commit()

        timed(
            f"bulk load of {args.signatures:,} signatures and their entries",
            lambda: add_signatures(args.signatures, 0),
        )
        first = timed(
            f"first checkpoint (sequences {args.signatures:,} entries)",
            lambda: ledger.make_checkpoint(petition),
        )
        db.session.commit()
        add_signatures(args.minute, args.signatures)
        second = timed(
            f"next checkpoint after {args.minute:,} new entries",
            lambda: ledger.make_checkpoint(petition),
        )
        db.session.commit()
        add_signatures(1, args.signatures + args.minute)
        third = timed("next checkpoint after 1 new entry", lambda: ledger.make_checkpoint(petition))
        db.session.commit()
        proof = timed(
            "consistency proof between the first and the last",
            lambda: ledger.consistency(petition, first.tree_size, third.tree_size),
        )
        assert verify_consistency(
            first.tree_size, third.tree_size, first.root_hash, third.root_hash, proof
        )
        some = db.session.scalar(
            sa.select(Signature.id).where(Signature.petition_id == petition.id).limit(1)
        )
        receipt = bytes.fromhex(ledger.receipt_hash(petition.id, some))
        found = timed("inclusion proof of a receipt", lambda: ledger.inclusion(petition, receipt))
        assert verify_inclusion(
            found.leaf_index, third.tree_size, receipt, found.proof, third.root_hash
        )
        print(
            f"tree sizes {first.tree_size:,} -> {second.tree_size:,} -> {third.tree_size:,}; "
            f"standing {third.standing_count:,}; proofs verified"
        )
        db.session.execute(sa.delete(Petition).where(Petition.id == petition.id))
        db.session.commit()


if __name__ == "__main__":
    main()
