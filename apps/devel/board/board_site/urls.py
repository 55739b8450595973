from django.urls import path

from board_site import views
from board_site.settings import PREFIX

base = PREFIX.strip("/") + "/"
urlpatterns = [
    path(base, views.index, name="index"),
    path(base + "healthz", views.healthz, name="healthz"),
]
