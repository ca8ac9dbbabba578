"""AutoGraph skips the package's code and only it (sessionrec_tf._autograph)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from conftest import REPO

# a function with Python control flow over a tensor: it traces only if AutoGraph converts it
SOURCE = textwrap.dedent("""
    def flip_if_negative(x):
        if tf.reduce_sum(x) < 0:
            return -x
        return x
""")


def _function_in(module_name: str, directory):  # noqa: ANN001, ANN202
    """``flip_if_negative`` from a module of that name (a real file: AutoGraph reads the
    source)."""
    path = directory / f"{module_name.replace('.', '_')}.py"
    path.write_text("import tensorflow as tf\n" + SOURCE)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.flip_if_negative


def test_user_code_is_converted_and_the_package_is_not(tmp_path):
    import sessionrec_tf.data.batch_ops  # noqa: F401  (installs the rule)

    user = tf.function(_function_in("user_code_probe", tmp_path))
    assert user(tf.constant([-2.0, 1.0])).numpy().tolist() == [2.0, -1.0]
    probe = _function_in("sessionrec_tf._autograph_probe", tmp_path)
    # called from traced code, as the Keras steps and the exported signatures call the
    # package (a function given to tf.function itself is always converted)
    library = tf.function(lambda x: probe(x))
    try:  # the package's functions run as written: Python `if` on a tensor cannot trace
        with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
            library(tf.constant([-2.0, 1.0]))
    finally:
        del sys.modules["sessionrec_tf._autograph_probe"], sys.modules["user_code_probe"]


@pytest.mark.parametrize("env, converted", [({}, False), ({"SESSIONREC_AUTOGRAPH": "1"}, True)])
def test_importing_the_data_path_installs_the_rule_unless_turned_off(env, converted):
    code = ("import sessionrec_tf.data.batch_ops as b\n"
            "from tensorflow.python.autograph.impl import conversion\n"
            "from sessionrec_tf.models.sessionrec import SessionRec\n"
            "print(conversion.is_allowlisted(SessionRec.call),"
            " conversion.is_allowlisted(b.repeat_range))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                         "SESSIONREC_AUTOGRAPH": "0", **env}, check=True)
    assert out.stdout.split()[-2:] == [str(not converted)] * 2
