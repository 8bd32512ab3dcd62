// French and English strings; the language comes from the browser unless the user picked one.

const STRINGS = {
  en: {
    appTitle: "pamchain",
    language: "Language",
    skip: "Skip to content",
    offline: "Offline: the node cannot be reached. Retrying…",
    online: "Back online.",
    loading: "Loading…",
    // key
    createTitle: "Create this phone's key",
    createIntro:
      "Your device key is created here, in this browser, and never leaves it. Choose a passphrase to protect it; you will type it each time you open the app.",
    passphrase: "Passphrase",
    passphraseConfirm: "Passphrase again",
    passphraseHint: "At least 8 characters.",
    create: "Create the key",
    creating: "Creating and encrypting the key…",
    passphraseShort: "The passphrase must have at least 8 characters.",
    passphraseMismatch: "The two passphrases differ.",
    unlockKeyTitle: "Unlock this phone's key",
    unlockKeyIntro: "Type the passphrase of the device key stored in this browser.",
    unlockKey: "Unlock",
    unlockingKey: "Decrypting the key…",
    wrongPassphrase: "Wrong passphrase: the key could not be decrypted. Try again.",
    forgetKey: "Forget this key",
    forgetConfirm: "Remove the key from this browser? You will need the council to enrol a new one.",
    lockKey: "Lock the key",
    // enrolment
    deviceTitle: "This device",
    deviceAddress: "Device address",
    qrLabel: "QR code of the device address {address}",
    enrolWaiting:
      "Not enrolled yet. Show this address or QR code to the council: once they enrol it against your account, this page continues by itself.",
    enrolled: "Enrolled: this device acts for {who}.",
    suspended: "This device's account is suspended: it cannot ask for anything.",
    demoEnrol: "Enrol as {label} (devnet demo)",
    demoHint: "Demo only: the devnet's council keys enrol this phone at once.",
    fundsLow: "This device has no funds for transaction fees yet: ask the council to fund it.",
    // navigation
    nav: "Main",
    navHome: "Unlock",
    navElevate: "Elevation",
    navPassword: "Password",
    navApprovals: "Approvals",
    navReviews: "Reviews",
    navHistory: "History",
    navDevice: "Device",
    // home
    homeTitle: "Unlock my account",
    homeIntro: "Locked out at the Windows logon screen? One tap asks the domain controller to unlock you.",
    unlockAccount: "Unlock my account",
    myRequests: "My requests and grants",
    noRequests: "Nothing in progress.",
    // elevation
    elevateTitle: "Ask for elevation",
    group: "Group",
    noGroups: "No group can be asked for on this deployment.",
    duration: "Duration",
    unit: "Unit",
    seconds: "seconds",
    minutes: "minutes",
    hours: "hours",
    maxDuration: "At most {max}.",
    durationTooLong: "Longer than the policy allows ({max}).",
    durationInvalid: "Give a duration greater than zero.",
    justification: "Justification",
    justificationHint: "Only a salted hash goes on chain.",
    ticket: "Ticket reference",
    ticketHint: "Optional, up to 32 ASCII characters (e.g. CHG-1042).",
    ticketInvalid: "The ticket reference must be at most 32 ASCII characters.",
    askElevation: "Ask",
    // password
    passwordTitle: "Change my password",
    passwordIntro:
      "The new password is encrypted here for the domain controller's oracle; only a hash goes on chain. An approver must accept the change.",
    newPassword: "New password",
    newPasswordConfirm: "New password again",
    showPassword: "Show the passwords",
    rules: "Rules",
    ruleLength: "At least {min} characters",
    ruleClasses: "At least 3 of: uppercase, lowercase, digit, symbol",
    ruleName: "Does not contain your account name",
    ruleControl: "No control character",
    ruleBreached: "Not a common or breached password",
    passwordMismatch: "The two passwords differ.",
    passwordWeak: "The password does not follow the rules.",
    passwordBreached: "This password is in the list of common or breached passwords.",
    sendPassword: "Send the change",
    sealing: "Encrypting and storing the payload…",
    noOracle: "No oracle key is published for your domain: password changes are not possible.",
    // approvals
    approvalsTitle: "Requests waiting for me",
    noPending: "Nothing waiting for your approval.",
    who: "Who",
    what: "What",
    why: "Why",
    howLong: "How long",
    ticketRef: "Ticket",
    approvalsCount: "Approvals",
    deadline: "Answer within",
    approve: "Approve",
    deny: "Deny",
    approveLabel: "Approve request {id}",
    denyLabel: "Deny request {id}",
    // history
    historyTitle: "History",
    noHistory: "No request yet.",
    // request rendering
    kind1: "Unlock",
    kind2: "Elevation",
    kind3: "Password change",
    status1: "Pending",
    status2: "Approved, waiting for the domain controller",
    status3: "Denied",
    status4: "Cancelled",
    status5: "Expired",
    status6: "Active",
    status7: "Ended",
    status8: "Done",
    status9: "Failed",
    requestN: "Request {id}",
    endsIn: "ends in {time}",
    expiresIn: "expires in {time}",
    cancel: "Cancel",
    cancelLabel: "Cancel request {id}",
    revoke: "End now",
    revokeLabel: "End grant {id} now",
    receiptApplied1: "Unlocked on {dc} at {time}",
    receiptApplied2: "Added to the group on {dc} at {time}",
    receiptApplied3: "Removed from the group on {dc} at {time}",
    receiptApplied4: "Password changed on {dc} at {time}",
    receiptFailed: "Failed on {dc} at {time}",
    noJustification: "none",
    hashOnly: "hash {hash}",
    // transactions and announcements
    signing: "Signing and sending…",
    sent: "Sent: request {id}.",
    done: "Done.",
    txFailed: "Refused: {reason}",
    announceStatus: "Request {id} ({kind}): {status}.",
    announceReceipt: "Request {id}: {receipt}.",
    announcePending: "New request waiting for your approval: {id}.",
    // access reviews
    reviewsTitle: "Access reviews",
    reviewsIntro:
      "The council asks you to re-confirm access that is still needed. What nobody confirms by the deadline is suspended or reported, as the campaign says.",
    reviewsDone: "Reviewed",
    noReviews: "Nothing to review.",
    noReviewsDone: "Nothing reviewed yet.",
    campaignN: "Review {id}",
    campaignNamed: "Review {id}: {label}",
    reviewYou: "You",
    reviewAccount: "Keeping an enrolled device",
    reviewRequester: "May request {group}",
    ifNotConfirmed: "If not confirmed",
    onLapse1: "Suspended: every grant ends",
    onLapse2: "Reported to security",
    confirmOwn: "I still need it",
    confirmOther: "Still needed",
    confirmReviewLabel: "Confirm item {item} of review {campaign}",
    itemStatus1: "Waiting",
    itemStatus2: "Confirmed",
    itemStatus3: "Not confirmed in time",
    announceReview: "Access review {campaign} needs you.",
  },
  fr: {
    appTitle: "pamchain",
    language: "Langue",
    skip: "Aller au contenu",
    offline: "Hors ligne : le nœud est injoignable. Nouvelle tentative…",
    online: "De nouveau en ligne.",
    loading: "Chargement…",
    createTitle: "Créer la clé de ce téléphone",
    createIntro:
      "La clé de votre appareil est créée ici, dans ce navigateur, et n'en sort jamais. Choisissez une phrase secrète pour la protéger ; vous la saisirez à chaque ouverture.",
    passphrase: "Phrase secrète",
    passphraseConfirm: "Phrase secrète (confirmation)",
    passphraseHint: "Au moins 8 caractères.",
    create: "Créer la clé",
    creating: "Création et chiffrement de la clé…",
    passphraseShort: "La phrase secrète doit compter au moins 8 caractères.",
    passphraseMismatch: "Les deux phrases secrètes diffèrent.",
    unlockKeyTitle: "Déverrouiller la clé de ce téléphone",
    unlockKeyIntro: "Saisissez la phrase secrète de la clé enregistrée dans ce navigateur.",
    unlockKey: "Déverrouiller",
    unlockingKey: "Déchiffrement de la clé…",
    wrongPassphrase: "Phrase secrète incorrecte : la clé n'a pas pu être déchiffrée. Réessayez.",
    forgetKey: "Oublier cette clé",
    forgetConfirm: "Supprimer la clé de ce navigateur ? Le conseil devra en enrôler une nouvelle.",
    lockKey: "Verrouiller la clé",
    deviceTitle: "Cet appareil",
    deviceAddress: "Adresse de l'appareil",
    qrLabel: "QR code de l'adresse de l'appareil {address}",
    enrolWaiting:
      "Pas encore enrôlé. Montrez cette adresse ou ce QR code au conseil : dès qu'il l'aura enrôlée pour votre compte, cette page continuera d'elle-même.",
    enrolled: "Enrôlé : cet appareil agit pour {who}.",
    suspended: "Le compte de cet appareil est suspendu : il ne peut rien demander.",
    demoEnrol: "Enrôler comme {label} (démo devnet)",
    demoHint: "Démo uniquement : les clés du conseil du devnet enrôlent ce téléphone immédiatement.",
    fundsLow: "Cet appareil n'a pas encore de fonds pour les frais de transaction : demandez au conseil de l'approvisionner.",
    nav: "Principal",
    navHome: "Déverrouiller",
    navElevate: "Élévation",
    navPassword: "Mot de passe",
    navApprovals: "Approbations",
    navReviews: "Revues",
    navHistory: "Historique",
    navDevice: "Appareil",
    homeTitle: "Déverrouiller mon compte",
    homeIntro:
      "Bloqué à l'écran d'ouverture de session Windows ? Un appui demande au contrôleur de domaine de vous débloquer.",
    unlockAccount: "Déverrouiller mon compte",
    myRequests: "Mes demandes et droits",
    noRequests: "Rien en cours.",
    elevateTitle: "Demander une élévation",
    group: "Groupe",
    noGroups: "Aucun groupe ne peut être demandé sur ce déploiement.",
    duration: "Durée",
    unit: "Unité",
    seconds: "secondes",
    minutes: "minutes",
    hours: "heures",
    maxDuration: "Au plus {max}.",
    durationTooLong: "Plus long que ce que la politique permet ({max}).",
    durationInvalid: "Indiquez une durée supérieure à zéro.",
    justification: "Justification",
    justificationHint: "Seule une empreinte salée est inscrite sur la chaîne.",
    ticket: "Référence du ticket",
    ticketHint: "Facultatif, 32 caractères ASCII au plus (ex. CHG-1042).",
    ticketInvalid: "La référence du ticket doit faire au plus 32 caractères ASCII.",
    askElevation: "Demander",
    passwordTitle: "Changer mon mot de passe",
    passwordIntro:
      "Le nouveau mot de passe est chiffré ici pour l'oracle du contrôleur de domaine ; seule une empreinte est inscrite sur la chaîne. Un approbateur doit accepter le changement.",
    newPassword: "Nouveau mot de passe",
    newPasswordConfirm: "Nouveau mot de passe (confirmation)",
    showPassword: "Afficher les mots de passe",
    rules: "Règles",
    ruleLength: "Au moins {min} caractères",
    ruleClasses: "Au moins 3 parmi : majuscule, minuscule, chiffre, symbole",
    ruleName: "Ne contient pas votre nom de compte",
    ruleControl: "Aucun caractère de contrôle",
    ruleBreached: "Pas un mot de passe courant ou divulgué",
    passwordMismatch: "Les deux mots de passe diffèrent.",
    passwordWeak: "Le mot de passe ne respecte pas les règles.",
    passwordBreached: "Ce mot de passe figure dans la liste des mots de passe courants ou divulgués.",
    sendPassword: "Envoyer le changement",
    sealing: "Chiffrement et dépôt de la charge…",
    noOracle: "Aucune clé d'oracle n'est publiée pour votre domaine : changement de mot de passe impossible.",
    approvalsTitle: "Demandes en attente de ma décision",
    noPending: "Rien n'attend votre approbation.",
    who: "Qui",
    what: "Quoi",
    why: "Pourquoi",
    howLong: "Durée",
    ticketRef: "Ticket",
    approvalsCount: "Approbations",
    deadline: "Répondre d'ici",
    approve: "Approuver",
    deny: "Refuser",
    approveLabel: "Approuver la demande {id}",
    denyLabel: "Refuser la demande {id}",
    historyTitle: "Historique",
    noHistory: "Aucune demande pour l'instant.",
    kind1: "Déverrouillage",
    kind2: "Élévation",
    kind3: "Changement de mot de passe",
    status1: "En attente",
    status2: "Approuvée, en attente du contrôleur de domaine",
    status3: "Refusée",
    status4: "Annulée",
    status5: "Expirée",
    status6: "Active",
    status7: "Terminée",
    status8: "Effectuée",
    status9: "Échouée",
    requestN: "Demande {id}",
    endsIn: "se termine dans {time}",
    expiresIn: "expire dans {time}",
    cancel: "Annuler",
    cancelLabel: "Annuler la demande {id}",
    revoke: "Terminer",
    revokeLabel: "Terminer maintenant le droit {id}",
    receiptApplied1: "Déverrouillé sur {dc} à {time}",
    receiptApplied2: "Ajouté au groupe sur {dc} à {time}",
    receiptApplied3: "Retiré du groupe sur {dc} à {time}",
    receiptApplied4: "Mot de passe changé sur {dc} à {time}",
    receiptFailed: "Échec sur {dc} à {time}",
    noJustification: "aucune",
    hashOnly: "empreinte {hash}",
    signing: "Signature et envoi…",
    sent: "Envoyée : demande {id}.",
    done: "Fait.",
    txFailed: "Refusé : {reason}",
    announceStatus: "Demande {id} ({kind}) : {status}.",
    announceReceipt: "Demande {id} : {receipt}.",
    announcePending: "Nouvelle demande en attente de votre approbation : {id}.",
    // revues d'accès
    reviewsTitle: "Revues d'accès",
    reviewsIntro:
      "Le conseil vous demande de reconfirmer les accès encore nécessaires. Ce que personne ne confirme avant l'échéance est suspendu ou signalé, selon la campagne.",
    reviewsDone: "Revus",
    noReviews: "Rien à revoir.",
    noReviewsDone: "Rien de revu pour l'instant.",
    campaignN: "Revue {id}",
    campaignNamed: "Revue {id} : {label}",
    reviewYou: "Vous",
    reviewAccount: "Garder un appareil enrôlé",
    reviewRequester: "Peut demander {group}",
    ifNotConfirmed: "Sans confirmation",
    onLapse1: "Suspendu : tous les accès prennent fin",
    onLapse2: "Signalé à la sécurité",
    confirmOwn: "J'en ai encore besoin",
    confirmOther: "Toujours nécessaire",
    confirmReviewLabel: "Confirmer l'élément {item} de la revue {campaign}",
    itemStatus1: "En attente",
    itemStatus2: "Confirmé",
    itemStatus3: "Non confirmé à temps",
    announceReview: "La revue d'accès {campaign} vous attend.",
  },
};

export const LANGUAGES = { en: "English", fr: "Français" };
const STORAGE_KEY = "pamchain:lang";

function initial() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && STRINGS[saved]) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (STRINGS[base]) return base;
  }
  return "en";
}

let lang = initial();

export function language() {
  return lang;
}

export function setLanguage(code) {
  if (!STRINGS[code]) return;
  lang = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
}

/** The string `key` in the current language with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** "1 h 05 min", "42 s": a duration for people. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}

export function formatTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString(lang === "fr" ? "fr-FR" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export const KNOWN = Object.keys(STRINGS);
