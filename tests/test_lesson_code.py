"""The client calls a lesson is about are shown in its notebook, in a short cell that defines the
same function a helper runs at scale or in a crashable process. This test keeps the two from
drifting apart: they must be the same code, apart from comments, docstrings and type hints
(which the notebooks leave out to stay short)."""

import ast
import inspect
import textwrap

import nbformat
import pytest

from helpers.backpressure import kafka as backpressure_kafka
from helpers.backpressure import rabbitmq as backpressure_rabbitmq
from helpers.cqrs import projection
from helpers.eventsourcing import relay
from helpers.failover import kafka as failover_kafka
from helpers.kafka import deadletter, loop, transactional
from helpers.rabbitmq import consumers, retry, rpc
from helpers.rabbitmq import worker as rabbitmq_worker
from helpers.redis_streams import consumers as redis_consumers
from helpers.redis_streams import recovery
from helpers.redis_streams import worker as redis_worker
from helpers.sagas import choreography, orchestrator
from helpers.security import fields
from lab.bench import kafka_workers, loops
from lab.book.navigation import NOTEBOOKS
from lab.brokers import secure

SHOWN = [
    ("01-Message-Queue-Fundamentals", consumers.subscribe),
    ("01-Message-Queue-Fundamentals", rabbitmq_worker.work),
    ("02-RabbitMQ-Routing-and-RPC", rpc.send_request),
    ("02-RabbitMQ-Routing-and-RPC", rpc.answer_request),
    ("02-RabbitMQ-Routing-and-RPC", retry.attempts_so_far),
    ("04-Kafka-Delivery-Guarantees", loop.process_batch),
    ("04-Kafka-Delivery-Guarantees", deadletter.or_dead_letter),
    ("05-Redis-Streams", redis_consumers.consume),
    ("09-Broker-Benchmarks", kafka_workers.send_when_there_is_room),
    ("09-Broker-Benchmarks", loops.send_paced),
    ("10-Kafka-Tuning", transactional.copy_in_transactions),
    ("11-Replication-and-Failover", failover_kafka.producer_config),
    ("11-Replication-and-Failover", failover_kafka.create_topic),
    ("05-Redis-Streams", redis_worker.process_order),
    ("05-Redis-Streams", recovery.recover),
    ("06-Event-Sourcing", relay.relay_once),
    ("07-CQRS", projection.apply_once),
    ("08-Sagas", choreography.payment_service),
    ("08-Sagas", orchestrator.advance),
    ("12-Backpressure", backpressure_rabbitmq.consume_slowly),
    ("12-Backpressure", backpressure_rabbitmq.publish_counting_nacks),
    ("12-Backpressure", backpressure_rabbitmq.watch_blocking),
    ("12-Backpressure", backpressure_kafka.poll_with_backpressure),
    ("12-Backpressure", backpressure_kafka.produce_waiting_for_room),
    ("13-Security", secure.kafka_config),
    ("13-Security", secure.rabbitmq_parameters),
    ("13-Security", secure.redis_client),
    ("13-Security", fields.encrypt_field),
    ("13-Security", fields.decrypt_field),
]


@pytest.mark.parametrize(
    ("notebook", "function"), SHOWN, ids=[f"{n[:2]}-{f.__name__}" for n, f in SHOWN]
)
def test_the_notebook_shows_the_code_the_helper_runs(notebook, function):
    shown = _function_in_notebook(NOTEBOOKS / f"{notebook}.ipynb", function.__name__)
    helper = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert _essence(shown) == _essence(helper), (
        f"{notebook} shows a {function.__name__} that is not {function.__module__}'s: "
        "copy one to the other"
    )


def _function_in_notebook(path, name: str) -> ast.FunctionDef:
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    return node
    raise AssertionError(f"{path.name} has no cell defining {name}")


def _essence(function: ast.FunctionDef) -> str:
    """The function's code without docstrings and type hints (comments are not in the AST)."""
    function = _StripHints().visit(ast.parse(ast.unparse(function))).body[0]
    return ast.dump(function, include_attributes=False)


class _StripHints(ast.NodeTransformer):
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            arg.annotation = None
        for arg in (node.args.vararg, node.args.kwarg):
            if arg:
                arg.annotation = None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:] or [ast.Pass()]  # the docstring
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value, lineno=0)
