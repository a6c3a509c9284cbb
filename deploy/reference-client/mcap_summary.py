#!/usr/bin/env python3
"""Reads a trial MCAP written by `pipps export mcap` with the standard MCAP reader (the `mcap`
package from PyPI, written independently of pipps) and prints a JSON summary: statistics, channels,
schemas, and per trial its robot, step count and outcome.

    .venv-client/bin/python deploy/reference-client/mcap_summary.py trials.mcap

It reads the file twice: through the summary and indexes (seeking reader), and linearly record by
record with every chunk and data-section CRC checked. It exits non-zero on any inconsistency.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from google.protobuf import descriptor_pb2  # noqa: E402
from mcap.reader import make_reader  # noqa: E402
from mcap.records import Chunk, DataEnd, Message  # noqa: E402
from mcap.stream_reader import StreamReader  # noqa: E402
from pipps.v1 import trial_pb2  # noqa: E402

TYPES = {"pipps.v1.TrialHeader": trial_pb2.TrialHeader, "pipps.v1.TrialStep": trial_pb2.TrialStep,
         "pipps.v1.TrialEnd": trial_pb2.TrialEnd, "pipps.v1.PolicyRecord": trial_pb2.PolicyRecord}


def main(path):
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        summary = reader.get_summary()
        if summary is None or summary.statistics is None:
            raise SystemExit("no summary section")
        schemas = {}
        for schema in summary.schemas.values():
            if schema.encoding != "protobuf":
                raise SystemExit(f"schema {schema.name}: encoding {schema.encoding}")
            files = descriptor_pb2.FileDescriptorSet.FromString(schema.data)
            names = {f"{fd.package}.{m.name}" for fd in files.file for m in fd.message_type}
            if schema.name not in names:
                raise SystemExit(f"schema {schema.name} is not in its FileDescriptorSet")
            schemas[schema.id] = schema.name
        trials = {}
        topics = {}
        policies = []
        for schema, channel, message in reader.iter_messages():
            decoded = TYPES[schema.name].FromString(message.data)
            topics[channel.topic] = topics.get(channel.topic, 0) + 1
            if schema.name == "pipps.v1.PolicyRecord":
                policies.append({"robot": decoded.robot_id, "version": decoded.policy.version, "checksum": decoded.policy.checksum})
                continue
            trial = trials.setdefault(str(decoded.trial_id), {"steps": 0})
            if schema.name == "pipps.v1.TrialHeader":
                trial["robot"] = decoded.robot_id
                trial["task"] = decoded.task
            elif schema.name == "pipps.v1.TrialStep":
                trial["steps"] += 1
                trial["last_sequence"] = decoded.sequence
                trial["state_size"] = len(decoded.state)
                trial["state_sum"] = trial.get("state_sum", 0.0) + sum(decoded.state)
                trial["control_sum"] = trial.get("control_sum", 0.0) + sum(decoded.control)
                if message.log_time != decoded.received_unix_ns:
                    raise SystemExit("log time differs from the step's receive time")
            else:
                trial["outcome"] = trial_pb2.TrialOutcome.Name(decoded.outcome)
                trial["step_count"] = decoded.step_count
        for trial in trials.values():  # exact, as hexadecimal floats
            for key in ("state_sum", "control_sum"):
                if key in trial:
                    trial[key] = float.hex(trial[key])
        stats = summary.statistics
        if sum(topics.values()) != stats.message_count:
            raise SystemExit(f"statistics say {stats.message_count} messages, read {sum(topics.values())}")

    linear = {"records": 0, "chunks": 0, "messages": 0, "data_end": False}
    with open(path, "rb") as f:
        for record in StreamReader(f, validate_crcs=True, emit_chunks=False).records:
            linear["records"] += 1
            if isinstance(record, Message):
                linear["messages"] += 1
            elif isinstance(record, DataEnd):
                linear["data_end"] = True
    with open(path, "rb") as f:
        linear["chunks"] = sum(isinstance(r, Chunk) for r in StreamReader(f, validate_crcs=True, emit_chunks=True).records)

    print(json.dumps({
        "message_count": stats.message_count, "chunk_count": stats.chunk_count, "channel_count": stats.channel_count,
        "topics": topics, "schemas": sorted(schemas.values()), "chunk_indexes": len(summary.chunk_indexes),
        "trials": trials, "policies": policies, "linear": linear,
    }, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: mcap_summary.py FILE.mcap")
    main(sys.argv[1])
