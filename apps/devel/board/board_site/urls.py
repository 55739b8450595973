from django.urls import path

from . import views
from .settings import PREFIX

base = PREFIX.strip("/") + "/"
urlpatterns = [
    path(base, views.index, name="index"),
    path(base + "healthz", views.healthz, name="healthz"),
]
