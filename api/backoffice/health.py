"""Placeholder until the page is written: no routes yet."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
