"""Exercise form check from one to four photos (`POST /workouts/form-check`)."""

import time
import uuid
from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from accounts.models import User
from ai_assistant.client import get_ai_client
from ai_assistant.formcheck.prompts import FORM_COACH, form_check_prompt
from ai_assistant.formcheck.schemas import FormCheck, FormCheckAnswer, FormCheckResponse
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.providers import Blob
from ai_assistant.recognition import pipeline
from ai_assistant.responses import AIResultSource
from analytics.events import ServerEvent
from analytics.services import track
from storage.selectors import owned_files
from workouts import selectors as workout_selectors
from workouts import services as workout_services

MAX_PHOTOS = 4


def check_form(
    *,
    user: User,
    exercise: str,
    uploads: Sequence[UploadedFile] = (),
    file_ids: Sequence[uuid.UUID] = (),
    workout_id: uuid.UUID | None = None,
) -> FormCheckResponse:
    """The check of the photos (uploads and the caller's stored files, 1 to 4 in all);
    with `workout_id` it is also kept as that workout's `ai_form_check`."""
    started = time.monotonic()
    client = get_ai_client()
    # Everything that can be refused is refused before the allowance is counted.
    if workout_id is not None:
        workout_selectors.get_workout(user=user, workout_id=workout_id)
    stored = owned_files(user, file_ids, field="file_id")
    photos = [pipeline.preprocess_upload(upload).data for upload in uploads]
    enforce_rate_limit(user=user, scope="form_check", config=client.config)
    photos += [pipeline.model_jpeg(file) for file in stored]
    answer = client.generate_json(
        [
            form_check_prompt(exercise, len(photos)),
            *(Blob(data=photo, mime_type="image/jpeg") for photo in photos),
        ],
        FormCheckAnswer,
        user=user,
        endpoint="workouts.form_check",
        model_kind="vision",
        system_instruction=FORM_COACH,
    ).data
    check = FormCheck.model_validate(answer.model_dump(exclude={"confidence"}))
    track(user, ServerEvent.FORM_CHECKED, {"photos": len(photos), "kept": workout_id is not None})
    if workout_id is not None:
        workout_services.save_form_check(
            owner=user,
            workout_id=workout_id,
            form_check={
                **check.model_dump(mode="json"),
                "confidence": answer.confidence,
                "checked_at": timezone.now().isoformat(),
            },
        )
    return FormCheckResponse(
        data=check,
        confidence=answer.confidence,
        processing_time=round(time.monotonic() - started, 3),
        source=AIResultSource.GEMINI,
    )
