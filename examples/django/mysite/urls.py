from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("status", views.status_page, name="status"),
    path("upwatch/", include("upwatch.contrib.django.urls")),
]
