import json
from pathlib import Path

from monitor.alerts.model import SCHEMA_VERSION, Alert, alert_json_schema

DOC = Path(__file__).parent.parent / "docs" / "alert.schema.json"


def test_published_schema_matches_the_model() -> None:
    """Integrators read docs/alert.schema.json; regenerate it with `make schema` when Alert changes."""
    assert json.loads(DOC.read_text()) == alert_json_schema()


def test_schema_names_the_contract_fields() -> None:
    schema = alert_json_schema()
    assert {"schema_version", "id", "rule", "topics", "article", "evidence", "story"} <= set(
        schema["properties"]  # type: ignore[call-overload]
    )
    assert Alert.model_fields["schema_version"].default == SCHEMA_VERSION
