"""A real PostgreSQL database made to look like Supabase: an `auth` schema with `auth.users`
(real bcrypt hashes) and the plan's tables with their `JSONB[]` columns."""

import os
import uuid
from urllib.parse import quote

import bcrypt
import psycopg
from django.conf import settings
from psycopg import sql
from psycopg.types.json import Jsonb

# The Firebase Storage bucket the gcp-storage-emulator holds (the `bucket` fixture).
BUCKET = "ff-legacy.appspot.com"


def download_url(path: str) -> str:
    """A Firebase Storage download URL, as the old app stored them."""
    return (
        f"https://firebasestorage.googleapis.com/v0/b/{BUCKET}/o/{quote(path, safe='')}"
        "?alt=media&token=0b3c9a1e-1111-2222-3333-444455556666"
    )


SCHEMA = """
CREATE SCHEMA auth;
CREATE TABLE auth.users (
    instance_id UUID,
    id UUID PRIMARY KEY,
    aud VARCHAR(255),
    role VARCHAR(255),
    email VARCHAR(255),
    encrypted_password VARCHAR(255),
    email_confirmed_at TIMESTAMPTZ,
    confirmation_token VARCHAR(255),
    recovery_token VARCHAR(255),
    raw_app_meta_data JSONB,
    raw_user_meta_data JSONB,
    phone TEXT,
    banned_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE TABLE users (
    id UUID PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    name VARCHAR(255),
    display_name VARCHAR(255),
    birthday DATE,
    gender VARCHAR(50),
    height JSONB,
    weight JSONB,
    target_weight JSONB,
    fitness_goal TEXT,
    preferences JSONB,
    social_connections JSONB[],
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TABLE food_logs (
    id UUID PRIMARY KEY,
    user_id UUID,
    name VARCHAR(255) NOT NULL,
    calories INTEGER NOT NULL,
    protein DECIMAL,
    carbs DECIMAL,
    fat DECIMAL,
    timestamp TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    image_url TEXT,
    ai_analysis JSONB,
    metadata JSONB,
    meal_type VARCHAR(50),
    tags TEXT[],
    shared_with UUID[],
    -- not in the plan: an old app version's column, and a zone-less time
    app_version TEXT,
    logged_local TIMESTAMP WITHOUT TIME ZONE
);
CREATE TABLE workouts (
    id UUID PRIMARY KEY,
    user_id UUID,
    name VARCHAR(255) NOT NULL,
    type VARCHAR(50),
    duration INTEGER,
    calories_burned INTEGER,
    completed BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT NOW(),
    exercises JSONB[],
    progress_photos TEXT[],
    ai_form_check JSONB,
    shared_with UUID[],
    group_id UUID
);
CREATE TABLE groups (
    id UUID PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    created_by UUID,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    members JSONB[],
    settings JSONB,
    challenges JSONB[]
);
CREATE TABLE ai_conversations (
    id UUID PRIMARY KEY,
    user_id UUID,
    session_id UUID,
    context JSONB,
    messages JSONB[],
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    metadata JSONB
);
"""


def server_url(dbname: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{dbname}"


class StandIn:
    def __init__(self, name: str | None = None) -> None:
        self.name = (
            name or f"supabase_standin_{os.environ.get('TEST_RUN_ID', 'x')}_{uuid.uuid4().hex[:6]}"
        )
        self.url = server_url(self.name)

    def create(self) -> None:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        with self.connect() as conn:
            conn.execute(SCHEMA)

    def drop(self) -> None:
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def execute(self, query: str, params=()) -> None:
        with self.connect() as conn:
            conn.execute(query, params)

    # --- rows -------------------------------------------------------------------------------
    def add_auth_user(
        self, *, email: str, password: str | None = None, rounds: int = 4, **extra
    ) -> uuid.UUID:
        user_id = extra.pop("id", None) or uuid.uuid4()
        hashed = (
            bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode() if password else None
        )
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO auth.users (id, aud, role, email, encrypted_password, "
                "confirmation_token, raw_user_meta_data, banned_until) "
                "VALUES (%s, 'authenticated', 'authenticated', %s, %s, 'secret-token', %s, %s)",
                (
                    user_id,
                    email,
                    hashed,
                    Jsonb(extra.get("meta", {})),
                    extra.get("banned_until"),
                ),
            )
        return user_id

    def add_profile(self, user_id, *, email: str, **fields) -> None:
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO users (id, email, name, display_name, gender, height, weight, "
                "fitness_goal, social_connections) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    user_id,
                    email,
                    fields.get("name"),
                    fields.get("display_name"),
                    fields.get("gender"),
                    Jsonb(fields["height"]) if "height" in fields else None,
                    Jsonb(fields["weight"]) if "weight" in fields else None,
                    fields.get("fitness_goal"),
                    [Jsonb(c) for c in fields.get("social_connections", [])] or None,
                ),
            )

    def add_food_log(
        self, user_id, *, name: str = "Apple", calories: int = 95, **fields
    ) -> uuid.UUID:
        log_id = fields.pop("id", None) or uuid.uuid4()
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO food_logs (id, user_id, name, calories, protein, carbs, fat, "
                "timestamp, image_url, ai_analysis, metadata, meal_type, tags, shared_with, "
                "app_version, logged_local) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    log_id,
                    user_id,
                    name,
                    calories,
                    fields.get("protein", 0.5),
                    fields.get("carbs", 25),
                    fields.get("fat", 0.3),
                    fields.get("timestamp", "2026-03-01T08:00:00+00:00"),
                    fields.get("image_url"),
                    Jsonb(fields["ai_analysis"]) if "ai_analysis" in fields else None,
                    Jsonb(fields.get("metadata", {"source": "app"})),
                    fields.get("meal_type", "breakfast"),
                    fields.get("tags", ["fruit"]),
                    fields.get("shared_with"),
                    fields.get("app_version"),
                    fields.get("logged_local"),
                ),
            )
        return log_id
