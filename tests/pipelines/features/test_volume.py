from pipelines.features import function_features, volume_counts
from tests.factories import event, events


def test_function_invocations_and_error_share_per_window():
    batch = events(
        event(action="Invoke", category="invocation", resource="billing"),
        event(action="Invoke", category="invocation", resource="billing", outcome="failure"),
        event(action="GetFunction", resource="billing"),
    )
    functions = function_features(batch)
    assert functions["invocations"].tolist() == [2]
    assert functions["error_share"].tolist() == [0.5]


def test_actions_are_counted_per_account():
    batch = events(event(), event(), event(account="111111111111"))
    counts = volume_counts(batch)
    actions = counts[counts["kind"] == "action"].sort_values("account")
    assert actions["events"].tolist() == [1, 2]
