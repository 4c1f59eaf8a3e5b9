# SPDX-License-Identifier: BSD-2-Clause
"""Two "hosts" on one machine: two network namespaces (ip netns, as root) joined by a veth
pair, each with its own host name (unshare --uts). mpirun starts one rank in each through
an rsh agent that enters the namespace (in place of ssh), and the ranks talk over TCP on
the veth pair only. The run must end with the weights of the same 2-rank run on one host.
Skips with a message where namespaces cannot be made (not root, no CAP_SYS_ADMIN, no ip).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_distributed as td  # noqa: E402
from test_distributed import database, fcntool, mpirun  # noqa: E402,F401

SUBNET = "10.231.77"


def sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def namespaces():
    """Two namespaces fcnA<pid>/fcnB<pid> with a veth pair between them."""
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        pytest.skip("ip (iproute2) or unshare (util-linux) missing: two-host test skipped")
    tag = str(os.getpid())
    names = [f"fcnA{tag}", f"fcnB{tag}"]
    veth = [f"fva{tag}", f"fvb{tag}"]
    made = []
    try:
        for name in names:
            proc = sh("ip", "netns", "add", name)
            if proc.returncode != 0:
                pytest.skip(f"network namespaces unavailable ({proc.stderr.strip()}): "
                            "two-host test skipped")
            made.append(name)
        steps = [
            ["ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1]],
            ["ip", "link", "set", veth[0], "netns", names[0]],
            ["ip", "link", "set", veth[1], "netns", names[1]],
        ]
        for i, name in enumerate(names):
            steps += [
                ["ip", "-n", name, "addr", "add", f"{SUBNET}.{i + 1}/24", "dev", veth[i]],
                ["ip", "-n", name, "link", "set", veth[i], "up"],
                ["ip", "-n", name, "link", "set", "lo", "up"],
            ]
        for step in steps:
            proc = sh(*step)
            if proc.returncode != 0:
                pytest.skip(f"cannot set up the veth pair ({' '.join(step)}: "
                            f"{proc.stderr.strip()}): two-host test skipped")
        yield names
    finally:
        for name in made:
            sh("ip", "netns", "del", name)


def test_two_namespaces_over_tcp_equal_one_host(fcntool, mpirun, database, namespaces,  # noqa: F811
                                               tmp_path):
    one_host = td.setup_run(tmp_path / "one_host", database, iter_size=1)
    td.run_ranks(mpirun, fcntool, one_host)

    cwd = td.setup_run(tmp_path / "two_hosts", database, iter_size=1)
    # The rsh agent: "agent HOST COMMAND..." runs COMMAND in HOST's namespace, with HOST as
    # its host name, as ssh would run it on that host.
    agent = tmp_path / "netns-agent.sh"
    agent.write_text("#!/bin/sh\nhost=$1\nshift\n"
                     "exec ip netns exec \"$host\" unshare --uts /bin/sh -c "
                     "\"hostname $host && $*\"\n")
    agent.chmod(0o755)
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("".join(f"{name} slots=1\n" for name in namespaces))
    command = [
        "ip", "netns", "exec", namespaces[0], "unshare", "--uts", "/bin/sh", "-c",
        "hostname fcnlauncher && exec \"$@\"", "sh",
        mpirun, "-np", "2", "--hostfile", str(hostfile), "--map-by", "node", "--display-map",
        "--mca", "plm_rsh_agent", str(agent), "--mca", "plm_rsh_no_tree_spawn", "1",
        "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", f"{SUBNET}.0/24",
        "--mca", "oob_tcp_if_include", f"{SUBNET}.0/24",
        "-x", "PATH", "-x", "LD_LIBRARY_PATH",
        str(fcntool), "train", "--solver=solver.prototxt", "--threads=1", "--comm_timeout=60",
    ]
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          timeout=td.TIMEOUT_S, env={**os.environ, **td.ROOT_ENV})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "Data-parallel training on 2 ranks over MPI" in log
    # one rank on each "host" (mpirun's map names the node of every rank)
    for name in namespaces:
        assert re.search(rf"Data for node: {name}\s+Num slots: 1\s+Max slots: 0\s+Num procs: 1",
                         log), log
    for name in ("run_iter_10.caffemodel", "run_iter_5.caffemodel"):
        assert (cwd / name).read_bytes() == (one_host / name).read_bytes(), name
    td.expect_same_state(cwd / "run_iter_10.solverstate", one_host / "run_iter_10.solverstate")
