# URLs of https://listes.DOMAIN/ (provision/lists): Postorius at /mailman3/,
# HyperKitty at /archives/, accounts at /accounts/, Django's admin at
# /admin/. ROOT_URLCONF in /etc/mailman3/mailman-web.py names this module.
from django.contrib import admin
from django.urls import include, re_path, reverse_lazy
from django.views.generic import RedirectView

urlpatterns = [
    re_path(r'^$', RedirectView.as_view(url=reverse_lazy('list_index'), permanent=False)),
    re_path(r'^mailman3/', include('postorius.urls')),
    re_path(r'^archives/', include('hyperkitty.urls')),
    re_path(r'', include('django_mailman3.urls')),
    re_path(r'^accounts/', include('allauth.urls')),
    re_path(r'^admin/', admin.site.urls),
]
