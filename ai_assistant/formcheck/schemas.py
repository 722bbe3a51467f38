"""The shape of an exercise form check (`POST /workouts/form-check`), like recognition's: the
JSON Schema sent to the model, the validation of its answer, and the OpenAPI types."""

from enum import StrEnum

from pydantic import BaseModel, Field

from ai_assistant.responses import AIResponse

MAX_ISSUES = 10


class FormIssueSeverity(StrEnum):
    LOW = "low"  # worth polishing
    MEDIUM = "medium"  # costs effectiveness, or risks strain over time
    HIGH = "high"  # risks injury: fix before adding load


class FormIssue(BaseModel):
    severity: FormIssueSeverity
    description: str = Field(min_length=1, max_length=500, description="What is wrong.")
    cue: str = Field(max_length=300, description="A short coaching cue that fixes it.")


class FormCheck(BaseModel):
    exercise: str = Field(min_length=1, max_length=100, description="The exercise checked.")
    score: float = Field(ge=0, le=10, description="Form quality, 0 (unsafe) to 10 (textbook).")
    issues: list[FormIssue] = Field(max_length=MAX_ISSUES, description="Most severe first.")
    summary: str = Field(max_length=1000)


class FormCheckAnswer(FormCheck):
    """What the model is asked for: the check plus its confidence, which the API returns
    beside the check (`AIResponse.confidence`) rather than inside it."""

    confidence: float = Field(ge=0, le=1, description="How sure the check is, 0 to 1.")


class FormCheckResponse(AIResponse[FormCheck]):
    pass
