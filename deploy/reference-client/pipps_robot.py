#!/usr/bin/env python3
"""A reference robot client for the PIPPS runtime (`pipps serve`), written in Python.

It shows that the wire protocol of deploy/HARDWARE.md works from a second language: pyzmq for the
DEALER socket (CURVE when keys are given) and the protobuf modules that scripts/gen-proto generates
from Proto/ into pipps/v1/ beside this file.

    make client-env      # .venv-client with pyzmq and protobuf (pinned in requirements.txt)
    .venv-client/bin/python deploy/reference-client/pipps_robot.py \\
        --connect tcp://127.0.0.1:7700 --id cartpole-01 \\
        --key keys/cartpole-01.key --server-key keys/runtime.pub

`RuntimeConnection` is the part to reuse on a robot: registration (Hello/Welcome), one State → one
Control with the same sequence number, the watchdog (no answer within the deadline → the safe
control), trial notices, and registering again when the runtime has restarted. The loop at the end
drives a simulated cart-pole (the PILCO cart-pole, RK4 under zero-order hold) in its place: on real
hardware, read the sensors instead of `CartPole.state` and write the control to the actuators.

Prints one JSON summary line on stdout when done.
"""

import argparse
import collections
import json
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402
from pipps.v1 import common_pb2, robot_pb2  # noqa: E402

PROTOCOL_VERSION = 1

Reply = collections.namedtuple("Reply", "control status reason detail policy_version answered")


def read_key(text_or_path, secret):
    """A Z85 key: the 40 characters themselves, or a key file written by `pipps keys`
    (lines `public-key = "..."` and, in NAME.key, `secret-key = "..."`)."""
    if len(text_or_path) == 40 and not os.path.exists(text_or_path):
        return text_or_path
    wanted = "secret-key" if secret else "public-key"
    with open(text_or_path, encoding="utf-8") as f:
        for line in f:
            name, _, value = line.partition("=")
            if name.strip() == wanted:
                key = value.strip().strip('"')
                if len(key) != 40:
                    raise ValueError(f"{text_or_path}: {wanted} is not a 40-character Z85 key")
                return key
    raise ValueError(f"{text_or_path}: no {wanted} line")


class RuntimeConnection:
    """One robot's connection to the runtime."""

    def __init__(self, endpoint, robot_id, kind, state_dimension, control_dimension, period_s,
                 secret_key=None, server_key=None, deadline_s=0.05, safe_control=None):
        self.robot_id = robot_id
        self.kind = kind
        self.state_dimension = state_dimension
        self.control_dimension = control_dimension
        self.period_s = period_s
        self.deadline_s = deadline_s
        self.safe_control = list(safe_control or [0.0] * control_dimension)
        self.sequence = 0
        self.trial_id = 0
        self.trial_max_steps = 0
        self.notices = []          # ("trial_start", id, task, max_steps) / ("trial_stop", id, reason) / ("error", text)
        self.late_answers = 0
        self.registrations = 0
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # Queue nothing while disconnected: a state sent into a dead connection is stale when it arrives.
        self.socket.setsockopt(zmq.IMMEDIATE, 1)
        if secret_key:
            if not server_key:
                raise ValueError("CURVE needs the runtime's public key too")
            self.socket.curve_secretkey = secret_key.encode()
            self.socket.curve_publickey = zmq.curve_public(secret_key.encode())
            self.socket.curve_serverkey = server_key.encode()
        self.socket.connect(endpoint)

    def close(self, reason="done"):
        try:
            self._send(robot_pb2.RobotMessage(goodbye=robot_pb2.Goodbye(reason=reason)))
        finally:
            self.socket.close(0)
            self.context.term()

    def _send(self, message):
        try:
            self.socket.send(message.SerializeToString(), zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False  # not connected (ZMQ_IMMEDIATE): the watchdog covers it

    def _receive(self, until):
        """The next runtime message before the monotonic time `until`, or None."""
        remaining_ms = max(0, int((until - time.monotonic()) * 1000))
        if not self.socket.poll(remaining_ms, zmq.POLLIN):
            return None
        message = robot_pb2.RuntimeMessage()
        message.ParseFromString(self.socket.recv())
        return message

    def _notice(self, message):
        body = message.WhichOneof("body")
        if body == "trial_start":
            start = message.trial_start
            self.trial_id, self.trial_max_steps = start.trial_id, start.max_steps
            self.notices.append(("trial_start", start.trial_id, start.task, start.max_steps))
        elif body == "trial_stop":
            if message.trial_stop.trial_id == self.trial_id:
                self.trial_id = 0
            self.notices.append(("trial_stop", message.trial_stop.trial_id, message.trial_stop.reason))
        elif body == "error":
            self.notices.append(("error", message.error.message))

    def hello(self, timeout_s=5.0):
        """Registers; returns the Welcome. Raises when refused or unanswered."""
        hello = robot_pb2.Hello(
            robot_id=self.robot_id, kind=self.kind, state_dimension=self.state_dimension,
            control_dimension=self.control_dimension, control_period_us=int(self.period_s * 1e6),
            firmware_version="pipps_robot.py", protocol_version=PROTOCOL_VERSION)
        # Until connected (and, with CURVE, the handshake done) a send is refused: ZMQ_IMMEDIATE.
        # So Hello goes out again every half second until the Welcome comes.
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            self._send(robot_pb2.RobotMessage(hello=hello))
            until = min(give_up, time.monotonic() + 0.5)
            while (message := self._receive(until)) is not None:
                if message.WhichOneof("body") == "welcome":
                    if not message.welcome.accepted:
                        raise RuntimeError(f"the runtime refused {self.robot_id}: {message.welcome.reason}")
                    self.registrations += 1
                    return message.welcome
                self._notice(message)
        raise TimeoutError(f"no Welcome within {timeout_s} s (wrong endpoint, or a key the runtime does not know)")

    def exchange(self, state, sequence=None):
        """Sends one observed state and returns the runtime's answer to it, or the safe control
        (answered=False) when none arrives within the deadline: the watchdog's duty."""
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        message = robot_pb2.RobotMessage(state=robot_pb2.State(
            robot_id=self.robot_id, trial_id=self.trial_id, sequence=sequence,
            robot_time_ns=time.monotonic_ns(), state=state))
        until = time.monotonic() + self.deadline_s
        if self._send(message):
            while (answer := self._receive(until)) is not None:
                if answer.WhichOneof("body") != "control":
                    self._notice(answer)
                    continue
                control = answer.control
                if control.sequence != sequence:
                    self.late_answers += 1  # an answer to an earlier state, after its deadline: never applied
                    continue
                if control.reason == robot_pb2.FALLBACK_REASON_NOT_REGISTERED:
                    self.hello()  # the runtime restarted and forgot us
                values = list(control.control)
                if len(values) != self.control_dimension or not all(math.isfinite(v) for v in values):
                    # NOT_REGISTERED from a runtime that never saw this robot carries no values; the
                    # firmware's own guard covers that and anything malformed: the safe control.
                    values = list(self.safe_control)
                return Reply(values, control.status, control.reason, control.detail,
                             control.policy_version, True)
        return Reply(list(self.safe_control), None, None, "watchdog", 0, False)


class CartPole:
    """The PILCO cart-pole (state [x, ẋ, θ̇, θ], θ = π upright; control: force on the cart)."""

    def __init__(self, state):
        self.state = list(state)

    @staticmethod
    def derivative(s, force, l=0.5, m=0.5, M=0.5, b=0.1, g=9.82):
        _, xd, thd, th = s
        sn, cs = math.sin(th), math.cos(th)
        den = 4 * (M + m) - 3 * m * cs * cs
        xdd = (2 * m * l * thd * thd * sn + 3 * m * g * sn * cs + 4 * force - 4 * b * xd) / den
        thdd = (-3 * m * l * thd * thd * sn * cs - 6 * (M + m) * g * sn - 6 * (force - b * xd) * cs) / (l * den)
        return [xd, xdd, thdd, thd]

    def advance(self, force, seconds, substeps=10):
        h = seconds / substeps
        s = self.state
        for _ in range(substeps):
            k1 = self.derivative(s, force)
            k2 = self.derivative([a + h / 2 * k for a, k in zip(s, k1)], force)
            k3 = self.derivative([a + h / 2 * k for a, k in zip(s, k2)], force)
            k4 = self.derivative([a + h * k for a, k in zip(s, k3)], force)
            s = [a + h / 6 * (p + 2 * q + 2 * r + w) for a, p, q, r, w in zip(s, k1, k2, k3, k4)]
        self.state = s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:7700", help="the runtime's robot endpoint")
    parser.add_argument("--id", default="cartpole-py", help="robot id (1-64 printable ASCII characters)")
    parser.add_argument("--steps", type=int, default=100, help="control steps to run")
    parser.add_argument("--period", type=float, default=0.1, help="control period in seconds (10 Hz)")
    parser.add_argument("--lockstep", action="store_true", help="do not wait for the period: as fast as the runtime answers")
    parser.add_argument("--watchdog-ms", type=float, default=50.0, help="deadline for each answer")
    parser.add_argument("--initial", default="0,0,0,3.1", help="initial state x,xdot,thetadot,theta")
    parser.add_argument("--noise", type=float, default=0.01, help="observation noise standard deviation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--key", help="this robot's secret key file (NAME.key from `pipps keys`) for CURVE")
    parser.add_argument("--server-key", help="the runtime's public key (file or Z85 text)")
    parser.add_argument("--repeat-sequence-at", type=int, default=-1,
                        help="at this step resend the previous sequence number (shows the OUT_OF_ORDER fallback)")
    args = parser.parse_args()
    if args.steps < 1 or args.period <= 0 or args.watchdog_ms <= 0:
        parser.error("--steps, --period and --watchdog-ms must be positive")
    initial = [float(v) for v in args.initial.split(",")]
    if len(initial) != 4 or not all(math.isfinite(v) for v in initial):
        parser.error("--initial needs 4 finite numbers")

    rng = random.Random(args.seed)
    secret = read_key(args.key, secret=True) if args.key else None
    server = read_key(args.server_key, secret=False) if args.server_key else None
    connection = RuntimeConnection(args.connect, args.id, common_pb2.ROBOT_KIND_CART_POLE, 4, 1, args.period,
                                   secret_key=secret, server_key=server, deadline_s=args.watchdog_ms / 1000)
    welcome = connection.hello()
    plant = CartPole(initial)
    statuses = collections.Counter()
    reasons = collections.Counter()
    versions = set()
    watchdog = 0
    worst_angle = 0.0
    trials_seen = 0
    next_tick = time.monotonic()
    for step in range(args.steps):
        observed = [v + rng.gauss(0, args.noise) for v in plant.state]
        repeat = connection.sequence if step == args.repeat_sequence_at and connection.sequence > 0 else None
        reply = connection.exchange(observed, sequence=repeat)
        if reply.answered:
            statuses[robot_pb2.ControlStatus.Name(reply.status)] += 1
            if reply.reason:
                reasons[robot_pb2.FallbackReason.Name(reply.reason)] += 1
            if reply.policy_version:
                versions.add(reply.policy_version)
        else:
            watchdog += 1
        plant.advance(reply.control[0], args.period)
        worst_angle = max(worst_angle, abs(plant.state[3] - math.pi))
        starts = [n for n in connection.notices if n[0] == "trial_start"]
        if len(starts) > trials_seen:  # a trial starts from the initial state
            trials_seen = len(starts)
            plant = CartPole(initial)
        if not args.lockstep:
            next_tick += args.period
            time.sleep(max(0.0, next_tick - time.monotonic()))
    connection.close()
    print(json.dumps({
        "robot": args.id, "session": welcome.session_id, "steps": args.steps,
        "statuses": dict(statuses), "fallback_reasons": dict(reasons), "watchdog": watchdog,
        "late_answers": connection.late_answers, "registrations": connection.registrations,
        "policy_versions": sorted(versions), "worst_angle_from_upright": worst_angle,
        "final_state": plant.state, "notices": [list(n) for n in connection.notices],
    }))


if __name__ == "__main__":
    main()
