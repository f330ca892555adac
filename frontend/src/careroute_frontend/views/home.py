"""The home page: what needs the signed-in person's attention, by role."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ..web import Ctx, csrf_protect, current, render

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/")
def home(ctx: Ctx = Depends(current)):
    return render(ctx.request, "home.html", active="home")
