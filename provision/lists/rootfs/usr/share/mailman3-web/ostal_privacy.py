"""Archives that show no address (provision/lists).

HyperKitty 1.3 has no setting that hides the authors' addresses: it only
writes them with a full-width at sign (root＠example.org), or "(a)" in its
API and in links, which any harvester reads back; messages' text and the
API's "content" keep them whole. This app, in INSTALLED_APPS of
/etc/mailman3/mailman-web.py, replaces those few spots at start-up so that
every address a page, the feed or the API shows becomes its local part
followed by "@…" (alice@example.org: alice@…). The mbox download and
Gravatar are off in the settings. When a HyperKitty upgrade moves one of
these spots the app says so in the log, and the check lists.archive-privacy
fails, rather than anything breaking.
"""
import logging
import re

from django.apps import AppConfig
from django.utils.safestring import SafeData, mark_safe

log = logging.getLogger('ostal_privacy')

# local part, then @, HyperKitty's full-width @ or its "(a)", then a domain.
ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)"
    r"(?:@|\uff20|&#64;|&#x40;|%40| ?\(a\) ?)"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)")


def hide(text):
    """Every address in text as its local part and "@…"."""
    if not text:
        return text
    hidden = ADDRESS.sub(lambda m: m.group(1) + '@\u2026', str(text))
    return mark_safe(hidden) if isinstance(text, SafeData) else hidden


class ArchivePrivacyConfig(AppConfig):
    name = 'ostal_privacy'
    label = 'ostal_privacy'
    verbose_name = 'Archives without addresses'
    path = '/usr/share/mailman3-web'

    def ready(self):
        for patch in (self._templates, self._api, self._feed):
            try:
                patch()
            except Exception:  # noqa: BLE001 - log, keep the site up
                log.exception('ostal_privacy: could not patch %s', patch.__name__)

    @staticmethod
    def _templates():
        from hyperkitty.templatetags import decorate, hk_generic

        # The author line of every message and thread summary.
        hk_generic.register.filter('escapeemail', lambda text: hide(text), is_safe=True)
        # Messages' text in summaries (after urlize).
        links = hk_generic.escapeemaillinks
        hk_generic.register.filter('escapeemaillinks', lambda text: hide(links(text)), is_safe=True)
        # Messages' text on their pages.
        render = decorate.render
        decorate.register.filter('render', lambda email, mlist: mark_safe(hide(render(email, mlist))))

    @staticmethod
    def _api():
        from hyperkitty.api.email import EmailShortSerializer
        from hyperkitty.api.sender import SenderSerializer

        SenderSerializer.get_address = lambda self, obj: hide(obj.address)
        to_representation = EmailShortSerializer.to_representation

        def hidden(self, obj):
            data = to_representation(self, obj)
            for key in ('content', 'sender_name', 'subject'):
                if isinstance(data.get(key), str):
                    data[key] = hide(data[key])
            return data
        EmailShortSerializer.to_representation = hidden

    @staticmethod
    def _feed():
        from hyperkitty.feed import MailingListFeed

        MailingListFeed.item_author_email = lambda self, item: None
        description = MailingListFeed.item_description
        MailingListFeed.item_description = lambda self, item: hide(description(self, item))
        author = MailingListFeed.item_author_name
        MailingListFeed.item_author_name = lambda self, item: hide(author(self, item))
